using Durable.Core.Failures;
using Microsoft.DurableTask;

namespace Durable.Functions.Orchestrations;

/// <summary>
/// The retry policies of activity calls. Whether a failure is retried is decided once, where the exception is still
/// an object: the activity marks a transient one as <see cref="TransientFailureException"/> (see
/// Durable.Replication.TransientFailures); here only those are retried, so a refusal, a validation error or a bug fails
/// the step at once instead of being repeated. The waits between attempts are durable timers.
/// </summary>
public static class ActivityRetry
{
    /// <summary>MoveTables steps: up to 4 attempts, 1 s doubling to at most 15 s.</summary>
    public static TaskOptions MoveTables { get; } = Transient(4, TimeSpan.FromSeconds(1), 2, TimeSpan.FromSeconds(15));

    /// <summary>VDiff steps: up to 5 attempts, 2 s doubling (a shard run resumes from its last checkpoint).</summary>
    public static TaskOptions VDiff { get; } = Transient(5, TimeSpan.FromSeconds(2), 2.0);

    public static TaskOptions Transient(int attempts, TimeSpan first, double backoff, TimeSpan? max = null) =>
        TaskOptions.FromRetryPolicy(new RetryPolicy(attempts, first, backoff, max) { HandleFailure = IsRetryable });

    public static bool IsRetryable(TaskFailureDetails failure) => failure.IsCausedBy<TransientFailureException>();
}
