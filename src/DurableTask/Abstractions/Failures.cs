namespace Durable.DurableTask;

/// <summary>A failure as it is stored in history and shown to callers (Microsoft.DurableTask shape).</summary>
public sealed record TaskFailureDetails(
    string ErrorType,
    string ErrorMessage,
    string? StackTrace = null,
    TaskFailureDetails? InnerFailure = null)
{
    /// <summary>Failures the runtime itself declares final (unknown task, nondeterminism, poison): never retried.</summary>
    public bool IsNonRetriable { get; init; }

    public static TaskFailureDetails FromException(Exception ex) =>
        ex is TaskFailedException tfe
            ? new TaskFailureDetails(typeof(TaskFailedException).FullName!, tfe.Message, tfe.StackTrace, tfe.FailureDetails)
            : new TaskFailureDetails(
                ex.GetType().FullName ?? ex.GetType().Name,
                ex.Message,
                ex.StackTrace,
                ex.InnerException is null ? null : FromException(ex.InnerException));

    /// <summary>True when the failure (or one of its inner failures) has an error type assignable to <typeparamref name="T"/>.</summary>
    public bool IsCausedBy<T>()
        where T : Exception
    {
        for (var f = this; f is not null; f = f.InnerFailure)
        {
            if (f.ErrorType == typeof(T).FullName)
            {
                return true;
            }

            var type = AppDomain.CurrentDomain.GetAssemblies()
                .Select(a => a.GetType(f.ErrorType, throwOnError: false))
                .FirstOrDefault(t => t is not null);
            if (type is not null && typeof(T).IsAssignableFrom(type))
            {
                return true;
            }
        }

        return false;
    }

    public override string ToString() => $"{ErrorType}: {ErrorMessage}";
}

/// <summary>Thrown into orchestrator code when an activity or sub-orchestration it awaited failed.</summary>
public sealed class TaskFailedException : Exception
{
    public TaskFailedException(string taskName, int taskId, TaskFailureDetails failureDetails)
        : base($"Task '{taskName}' (#{taskId}) failed with an unhandled exception: {failureDetails.ErrorMessage}")
    {
        TaskName = taskName;
        TaskId = taskId;
        FailureDetails = failureDetails;
    }

    public string TaskName { get; }

    public int TaskId { get; }

    public TaskFailureDetails FailureDetails { get; }
}

/// <summary>
/// The replayed orchestrator code did something other than what the history recorded. The instance is failed with this
/// message rather than continuing on a history that no longer describes the code.
/// </summary>
public sealed class NonDeterministicOrchestrationException(string message) : Exception(message);

/// <summary>Start of an instance id that already runs.</summary>
public sealed class OrchestrationAlreadyExistsException(string message) : InvalidOperationException(message);
