using System.Text.RegularExpressions;
using Durable.Functions.Http;
using Durable.Functions.Timers;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Durable.Functions.Hosting;

/// <summary>What a function invocation can reach: its name, an id for logs, the app's services and a logger.</summary>
public sealed class FunctionContext(string functionName, string invocationId, IServiceProvider services, ILogger logger, CancellationToken cancellationToken)
{
    public string FunctionName { get; } = functionName;

    public string InvocationId { get; } = invocationId;

    public IServiceProvider Services { get; } = services;

    public ILogger Logger { get; } = logger;

    /// <summary>Signalled on host shutdown or when the function exceeds host.json's functionTimeout.</summary>
    public CancellationToken CancellationToken { get; } = cancellationToken;
}

/// <summary>One function of the app, registered in DI; the host maps each kind to its trigger.</summary>
public abstract partial record FunctionDefinition(string Name)
{
    internal static void ValidateName(string name)
    {
        if (!FunctionNamePattern().IsMatch(name))
        {
            throw new ArgumentException($"Function name '{name}' is not valid; valid: 1-127 letters, digits, '_' or '-', starting with a letter.", nameof(name));
        }
    }

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9_-]{0,126}$")]
    private static partial Regex FunctionNamePattern();
}

/// <summary>An HTTP-triggered function at <c>/api/{Route}</c>.</summary>
public sealed record HttpTriggerFunction : FunctionDefinition
{
    public HttpTriggerFunction(string name, string route, IReadOnlyList<string> methods, AuthorizationLevel authLevel, Func<HttpContext, FunctionContext, Task<IResult>> handler)
        : base(name)
    {
        ValidateName(name);
        if (route.StartsWith('/') || route.Contains("..", StringComparison.Ordinal))
        {
            throw new ArgumentException($"Route '{route}' of function '{name}' must be relative to /api (no leading '/', no '..').", nameof(route));
        }

        if (methods.Count == 0)
        {
            throw new ArgumentException($"Function '{name}' declares no HTTP methods; give at least one, e.g. GET or POST.", nameof(methods));
        }

        Route = route;
        Methods = methods.Select(m => m.ToUpperInvariant()).ToArray();
        AuthLevel = authLevel;
        Handler = handler;
    }

    public string Route { get; }

    public IReadOnlyList<string> Methods { get; }

    public AuthorizationLevel AuthLevel { get; }

    public Func<HttpContext, FunctionContext, Task<IResult>> Handler { get; }
}

/// <summary>A message taken from a storage queue, its text decoded per host.json extensions.queues.messageEncoding.</summary>
public sealed record QueueTriggerMessage(string Id, string Text, long DequeueCount, DateTimeOffset InsertedAt, string QueueName);

/// <summary>
/// A function triggered by messages on an Azure Storage queue. <see cref="QueueName"/> may be <c>%SettingName%</c>,
/// resolved from the app settings when the host starts. A message whose handler keeps failing moves to
/// <c>&lt;queue&gt;-poison</c> after host.json's maxDequeueCount attempts.
/// </summary>
public sealed record QueueTriggerFunction : FunctionDefinition
{
    public QueueTriggerFunction(string name, string queueName, Func<FunctionContext, QueueTriggerMessage, Task> handler)
        : base(name)
    {
        ValidateName(name);
        QueueName = queueName;
        Handler = handler;
    }

    public string QueueName { get; }

    public Func<FunctionContext, QueueTriggerMessage, Task> Handler { get; }
}

/// <summary>What a timer-triggered function learns about the occurrence it runs for.</summary>
/// <param name="ScheduledTime">The occurrence (UTC) this invocation is for.</param>
/// <param name="Next">The occurrence after it.</param>
/// <param name="IsPastDue">True when the occurrence passed while no host was running and is being caught up.</param>
public sealed record TimerInfo(DateTime ScheduledTime, DateTime? Next, bool IsPastDue);

/// <summary>
/// A function on a six-field NCRONTAB schedule (UTC). Each occurrence fires once across all replicas of the host: the
/// replica that wins an ETag-guarded write of the schedule's "last fired" record runs it; the others skip it.
/// </summary>
public sealed record TimerTriggerFunction : FunctionDefinition
{
    public TimerTriggerFunction(string name, string schedule, Func<FunctionContext, TimerInfo, Task> handler)
        : base(name)
    {
        ValidateName(name);
        ScheduleExpression = schedule;
        Handler = handler;
    }

    /// <summary>The expression as declared; may be <c>%SettingName%</c>, resolved when the host starts.</summary>
    public string ScheduleExpression { get; }

    public Func<FunctionContext, TimerInfo, Task> Handler { get; }
}
