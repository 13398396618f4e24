using System.Reflection;
using Durable.Functions.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Extensions.Abstractions;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Durable.Functions.Queues;
using AuthorizationLevel = Durable.Functions.Http.AuthorizationLevel;
using WorkerAuthorizationLevel = Microsoft.Azure.Functions.Worker.AuthorizationLevel;

namespace Durable.Functions.Runner;

/// <summary>
/// Reads the app's functions from their attributes, the way the Functions SDK does when it writes functions.metadata:
/// every public method with <c>[Function(name)]</c> in a registered class is a function; its one trigger parameter
/// (<c>[HttpTrigger]</c>, <c>[QueueTrigger]</c>, <c>[TimerTrigger]</c>, <c>[OrchestrationTrigger]</c>,
/// <c>[ActivityTrigger]</c>) says how it is invoked, and every other parameter must be something the runner can bind
/// (<c>[DurableClient]</c>, <see cref="FunctionContext"/>, <see cref="CancellationToken"/>, an HTTP route value, an
/// orchestration's input). Anything else stops the runner at start with a message naming the function and the binding,
/// rather than failing on the first invocation.
/// </summary>
public sealed class FunctionCatalog
{
    private static readonly string[] AllHttpMethods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

    private const string Supported = "supported: [HttpTrigger], [QueueTrigger], [TimerTrigger], [OrchestrationTrigger], [ActivityTrigger], [DurableClient], FunctionContext, CancellationToken, HTTP route values, an orchestration's input";

    public FunctionCatalog(IEnumerable<FunctionClass> classes, IEnumerable<RunnerFunction> defined)
    {
        Functions = [.. classes.Select(c => c.Type).Distinct().SelectMany(Read), .. defined];
    }

    /// <summary>Every function of the app, those read from attributes first.</summary>
    public IReadOnlyList<RunnerFunction> Functions { get; }

    /// <summary>The functions <paramref name="type"/> declares, in declaration order.</summary>
    public static IReadOnlyList<RunnerFunction> Read(Type type) =>
        [.. type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)
            .Where(m => m.GetCustomAttribute<FunctionAttribute>() is not null)
            .OrderBy(m => m.MetadataToken)
            .Select(Describe)];

    private static RunnerFunction Describe(MethodInfo method)
    {
        var name = method.GetCustomAttribute<FunctionAttribute>()!.Name;
        FunctionMethod.CheckName(name, method);
        // The isolated worker declares a return value's output binding on the method itself.
        if (method.GetCustomAttributes().Concat(method.ReturnParameter.GetCustomAttributes()).OfType<OutputBindingAttribute>().FirstOrDefault() is { } output)
        {
            throw new FunctionBindingException($"Function '{name}' ({Where(method)}): its return value has the output binding [{Short(output)}], which the local runner does not support; return the value and write it from the function body instead.");
        }

        var triggers = method.GetParameters().Where(p => p.GetCustomAttributes().OfType<TriggerBindingAttribute>().Any()).ToList();
        if (triggers.Count != 1)
        {
            throw new FunctionBindingException($"Function '{name}' ({Where(method)}) declares {triggers.Count} trigger parameters; a function has exactly one ({Supported}).");
        }

        var trigger = triggers[0].GetCustomAttributes().OfType<TriggerBindingAttribute>().Single();
        var fn = new FunctionMethod(name, method);
        return trigger switch
        {
            HttpTriggerAttribute http => DescribeHttp(fn, http),
            QueueTriggerAttribute queue => DescribeQueue(fn, queue),
            TimerTriggerAttribute timer => DescribeTimer(fn, timer),
            OrchestrationTriggerAttribute => DescribeOrchestration(fn),
            ActivityTriggerAttribute => DescribeActivity(fn),
            _ => throw new FunctionBindingException($"Function '{name}' ({Where(method)}): trigger [{Short(trigger)}] is not supported by the local runner; {Supported}."),
        };
    }

    private static HttpTriggerFunction DescribeHttp(FunctionMethod fn, HttpTriggerAttribute http)
    {
        // Functions' defaults: the route is the function's name, and no methods means every method.
        var route = string.IsNullOrEmpty(http.Route) ? fn.Name : http.Route;
        var methods = http.Methods is { Length: > 0 } m ? m : AllHttpMethods;
        var level = http.AuthLevel switch
        {
            WorkerAuthorizationLevel.Anonymous => AuthorizationLevel.Anonymous,
            WorkerAuthorizationLevel.Function => AuthorizationLevel.Function,
            WorkerAuthorizationLevel.Admin => AuthorizationLevel.Admin,
            var other => throw new FunctionBindingException($"Function '{fn.Name}' ({Where(fn.Method)}): AuthorizationLevel.{other} is not supported by the local runner; valid: Anonymous, Function or Admin."),
        };
        fn.BindTrigger<HttpRequest>(a => a.Http!.Request, "[HttpTrigger] binds HttpRequest (ASP.NET Core integration)");
        fn.BindRouteValues(route);
        fn.RequireResult<IResult>("HTTP functions return IResult (Microsoft.AspNetCore.Http.Results)");
        return new HttpTriggerFunction(fn.Name, route, methods, level, async (httpContext, context) =>
            (IResult)(await fn.InvokeAsync(new InvocationArguments(context, httpContext, null)).ConfigureAwait(false))!);
    }

    private static QueueTriggerFunction DescribeQueue(FunctionMethod fn, QueueTriggerAttribute queue)
    {
        fn.BindTrigger<QueueTriggerMessage>(a => a.Trigger, "[QueueTrigger] binds string, BinaryData, byte[], QueueMessage or a JSON-deserialized type", QueueMessageBinding.Convert);
        fn.RequireResult<object>(null);
        return new QueueTriggerFunction(fn.Name, queue.QueueName, async (context, message) =>
            await fn.InvokeAsync(new InvocationArguments(context, null, message)).ConfigureAwait(false))
        {
            Connection = queue.Connection,
        };
    }

    private static TimerTriggerFunction DescribeTimer(FunctionMethod fn, TimerTriggerAttribute timer)
    {
        if (timer.RunOnStartup)
        {
            throw new FunctionBindingException($"Function '{fn.Name}' ({Where(fn.Method)}): [TimerTrigger(RunOnStartup = true)] is not supported (Functions advises against it in production: every restart or scale-out would run it); remove RunOnStartup.");
        }

        fn.BindTrigger<TimerOccurrence>(a => a.Trigger, "[TimerTrigger] binds TimerInfo", (occurrence, type) => type == typeof(TimerInfo)
            ? new TimerInfo
            {
                IsPastDue = occurrence.IsPastDue,
                ScheduleStatus = new ScheduleStatus { Last = occurrence.ScheduledTime, Next = occurrence.Next ?? DateTime.MaxValue, LastUpdated = occurrence.ScheduledTime },
            }
            : throw new ArgumentException("unsupported"));
        fn.RequireResult<object>(null);
        return new TimerTriggerFunction(fn.Name, timer.Schedule, async (context, occurrence) =>
            await fn.InvokeAsync(new InvocationArguments(context, null, occurrence)).ConfigureAwait(false));
    }

    private static OrchestrationTriggerFunction DescribeOrchestration(FunctionMethod fn)
    {
        fn.BindTrigger<TaskOrchestrationContext>(a => a.Orchestration, "[OrchestrationTrigger] binds TaskOrchestrationContext");
        var inputType = fn.BindOrchestrationInput();
        fn.RequireResult<object>(null);
        return new OrchestrationTriggerFunction(fn.Name, inputType ?? typeof(object), fn.ResultType, (services, context, input) =>
            fn.InvokeAsync(new InvocationArguments(
                new RunnerFunctionContext(fn.Name, context.InstanceId, services, CancellationToken.None, entryPoint: fn.Method), null, null)
            {
                Orchestration = context,
                Services = services,
                OrchestrationInput = input,
            }));
    }

    private static ActivityTriggerFunction DescribeActivity(FunctionMethod fn)
    {
        var input = fn.Method.GetParameters().Single(p => p.GetCustomAttribute<ActivityTriggerAttribute>() is not null).ParameterType;
        fn.BindTrigger<object>(a => a.Trigger, "[ActivityTrigger] binds the activity's input");
        fn.RequireResult<object>(null);
        return new ActivityTriggerFunction(fn.Name, input, fn.ResultType, (context, value) =>
            fn.InvokeAsync(new InvocationArguments(context, null, value)));
    }

    internal static string Where(MethodInfo method) => $"{method.DeclaringType?.FullName}.{method.Name}";

    internal static string Short(Attribute attribute) => attribute.GetType().Name.Replace("Attribute", "", StringComparison.Ordinal);

    internal const string SupportedBindings = Supported;
}

/// <summary>What one invocation hands to a function's parameters.</summary>
internal sealed record InvocationArguments(FunctionContext Context, HttpContext? Http, object? Trigger)
{
    public TaskOrchestrationContext? Orchestration { get; init; }

    public object? OrchestrationInput { get; init; }

    /// <summary>Where the declaring class and <c>[DurableClient]</c> come from: the invocation's services.</summary>
    public IServiceProvider Services { get; init; } = Context.InstanceServices;

    public DurableTaskClient DurableClient() => Services.GetRequiredService<DurableTaskClient>();
}
