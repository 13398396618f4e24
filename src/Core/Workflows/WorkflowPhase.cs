using Durable.Replication;

namespace Durable.Workflows;

/// <summary>
/// The phase show and status report. The published phase is the orchestration's, as of its last step; a stream can
/// fail after that (the Streamer sets it to Error in the sidecar), and the status header then said "Phase: Running"
/// while nothing was replicating (issue 19). So a stream in Error makes the phase Error and names the stream, unless
/// the workflow has finished.
/// </summary>
public static class WorkflowPhase
{
    public const string Error = "Error";

    public static (string Phase, string? LastError) Of(WorkflowState state, IEnumerable<StreamRecord> streams)
    {
        ArgumentNullException.ThrowIfNull(state);
        var failed = streams.Where(s => s.State == StreamState.Error).ToList();
        if (state.IsFinished || failed.Count == 0)
        {
            return (state.Phase, state.LastError);
        }

        var streamErrors = string.Join("; ", failed.Select(s => $"stream {s.Id} on {s.TargetKeyspace}/{s.TargetShard} is in Error: {s.Message}"));
        return (Error, state.LastError is { Length: > 0 } published && !published.Contains(streamErrors, StringComparison.Ordinal) ? $"{streamErrors} (last workflow error: {published})" : streamErrors);
    }
}
