namespace Durable.DurableTask;

/// <summary>Untyped view of an orchestrator, used by the registry and the replay engine.</summary>
public interface ITaskOrchestrator
{
    Type InputType { get; }

    Type OutputType { get; }

    Task<object?> RunAsync(TaskOrchestrationContext context, object? input);
}

/// <summary>Untyped view of an activity, used by the registry and the activity dispatcher.</summary>
public interface ITaskActivity
{
    Type InputType { get; }

    Type OutputType { get; }

    Task<object?> RunAsync(TaskActivityContext context, object? input);
}

/// <summary>
/// Base class for class-based orchestrators (Microsoft.DurableTask shape). The code in <see cref="RunAsync"/> is
/// replayed from history on every episode, so it must be deterministic: use the context for time, GUIDs, waiting and
/// side effects, and never await a non-durable task.
/// </summary>
public abstract class TaskOrchestrator<TInput, TOutput> : ITaskOrchestrator
{
    public Type InputType => typeof(TInput);

    public Type OutputType => typeof(TOutput);

    public abstract Task<TOutput> RunAsync(TaskOrchestrationContext context, TInput input);

    async Task<object?> ITaskOrchestrator.RunAsync(TaskOrchestrationContext context, object? input) =>
        await RunAsync(context, input is null ? default! : (TInput)input);
}

/// <summary>Base class for class-based activities: the one place where side effects (I/O) belong.</summary>
public abstract class TaskActivity<TInput, TOutput> : ITaskActivity
{
    public Type InputType => typeof(TInput);

    public Type OutputType => typeof(TOutput);

    public abstract Task<TOutput> RunAsync(TaskActivityContext context, TInput input);

    async Task<object?> ITaskActivity.RunAsync(TaskActivityContext context, object? input) =>
        await RunAsync(context, input is null ? default! : (TInput)input);
}

/// <summary>What an activity knows about its invocation.</summary>
public abstract class TaskActivityContext
{
    public abstract TaskName Name { get; }

    public abstract string InstanceId { get; }

    /// <summary>The id the orchestrator gave this call; with <see cref="InstanceId"/> it names the call uniquely, which
    /// makes it a natural idempotency key for activities delivered more than once.</summary>
    public virtual int TaskId => -1;

    public virtual string Version => string.Empty;

    /// <summary>Signalled when the host shuts down or the activity's lock is lost.</summary>
    public virtual CancellationToken CancellationToken => CancellationToken.None;
}

/// <summary>Function-style orchestrator adapter (registry <c>AddOrchestratorFunc</c>).</summary>
internal sealed class FuncTaskOrchestrator<TInput, TOutput>(Func<TaskOrchestrationContext, TInput, Task<TOutput>> run)
    : TaskOrchestrator<TInput, TOutput>
{
    public override Task<TOutput> RunAsync(TaskOrchestrationContext context, TInput input) => run(context, input);
}

/// <summary>Function-style activity adapter (registry <c>AddActivityFunc</c>).</summary>
internal sealed class FuncTaskActivity<TInput, TOutput>(Func<TaskActivityContext, TInput, Task<TOutput>> run)
    : TaskActivity<TInput, TOutput>
{
    public override Task<TOutput> RunAsync(TaskActivityContext context, TInput input) => run(context, input);
}

/// <summary>Stands in for "no input/no output" in the generic registration helpers.</summary>
public sealed class Unit
{
    private Unit()
    {
    }

    public static Unit? Value => null;
}
