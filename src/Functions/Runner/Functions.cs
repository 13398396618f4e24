using System.Text.RegularExpressions;
using Durable.Functions.Http;
using Durable.Functions.Timers;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using AuthorizationLevel = Durable.Functions.Http.AuthorizationLevel;
using Microsoft.DurableTask;

namespace Durable.Functions.Runner;

/// <summary>
/// One function as the local runner binds it: what its trigger needs and a delegate that runs the function. The
/// runner builds these from the app's <c>[Function]</c> methods (<see cref="FunctionCatalog"/>); tests may also add
/// them directly to exercise a trigger.
/// </summary>
public abstract partial record RunnerFunction(string Name)
{
    /// <summary>Azure Functions' name rule: a letter, then letters, digits, '_' or '-', at most 128 characters.</summary>
    internal const string NameRule = "a letter, then up to 127 letters, digits, '_' or '-'";

    internal static bool IsValidName(string name) => FunctionNamePattern().IsMatch(name);

    internal static void ValidateName(string name)
    {
        if (!IsValidName(name))
        {
            throw new ArgumentException($"Function name '{name}' is not valid; valid: {NameRule}.", nameof(name));
        }
    }

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9_-]{0,127}$")]
    private static partial Regex FunctionNamePattern();
}

/// <summary>An HTTP-triggered function at <c>/api/{Route}</c>.</summary>
public sealed record HttpTriggerFunction : RunnerFunction
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
public sealed record QueueTriggerFunction : RunnerFunction
{
    public QueueTriggerFunction(string name, string queueName, Func<FunctionContext, QueueTriggerMessage, Task> handler)
        : base(name)
    {
        ValidateName(name);
        QueueName = queueName;
        Handler = handler;
    }

    public string QueueName { get; }

    /// <summary>The app setting naming the storage account (Functions' <c>Connection</c>); null means AzureWebJobsStorage.</summary>
    public string? Connection { get; init; }

    public Func<FunctionContext, QueueTriggerMessage, Task> Handler { get; }
}

/// <summary>What a timer-triggered function learns about the occurrence it runs for.</summary>
/// <param name="ScheduledTime">The occurrence (UTC) this invocation is for.</param>
/// <param name="Next">The occurrence after it.</param>
/// <param name="IsPastDue">True when the occurrence passed while no host was running and is being caught up.</param>
public sealed record TimerOccurrence(DateTime ScheduledTime, DateTime? Next, bool IsPastDue);

/// <summary>
/// A function on a six-field NCRONTAB schedule (UTC). Each occurrence fires once across all replicas of the host: the
/// replica that wins an ETag-guarded write of the schedule's "last fired" record runs it; the others skip it.
/// </summary>
public sealed record TimerTriggerFunction : RunnerFunction
{
    public TimerTriggerFunction(string name, string schedule, Func<FunctionContext, TimerOccurrence, Task> handler)
        : base(name)
    {
        ValidateName(name);
        ScheduleExpression = schedule;
        Handler = handler;
    }

    /// <summary>The expression as declared; may be <c>%SettingName%</c>, resolved when the host starts.</summary>
    public string ScheduleExpression { get; }

    public Func<FunctionContext, TimerOccurrence, Task> Handler { get; }
}

/// <summary>An orchestrator or activity function: the runner registers it on the durable engine under its name.</summary>
public abstract record DurableTriggerFunction : RunnerFunction
{
    protected DurableTriggerFunction(string name, Type inputType, Type outputType)
        : base(name)
    {
        ValidateName(name);
        InputType = inputType;
        OutputType = outputType;
    }

    /// <summary>What the engine deserializes the input to: the input parameter's type (object when there is none).</summary>
    public Type InputType { get; }

    public Type OutputType { get; }
}

/// <summary>An orchestrator function; <see cref="Run"/> gets the services to create the declaring class from.</summary>
public sealed record OrchestrationTriggerFunction(string Name, Type InputType, Type OutputType, Func<IServiceProvider, TaskOrchestrationContext, object?, Task<object?>> Run)
    : DurableTriggerFunction(Name, InputType, OutputType);

/// <summary>An activity function; each run gets a context of its own.</summary>
public sealed record ActivityTriggerFunction(string Name, Type InputType, Type OutputType, Func<FunctionContext, object?, Task<object?>> Run)
    : DurableTriggerFunction(Name, InputType, OutputType);
