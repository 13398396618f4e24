namespace Durable.Replication;

public static class StreamStates
{
    /// <summary>The transitions the state machine allows; anything else is a bug or an operator mistake and is refused.</summary>
    private static readonly Dictionary<StreamState, StreamState[]> Allowed = new()
    {
        [StreamState.Init] = [StreamState.Copying, StreamState.Running, StreamState.Stopped, StreamState.Error],
        [StreamState.Copying] = [StreamState.Copying, StreamState.Running, StreamState.Stopped, StreamState.Error],
        [StreamState.Running] = [StreamState.Running, StreamState.Stopped, StreamState.Error, StreamState.Frozen],
        [StreamState.Stopped] = [StreamState.Stopped, StreamState.Running, StreamState.Copying, StreamState.Error, StreamState.Frozen],
        [StreamState.Error] = [StreamState.Error, StreamState.Running, StreamState.Copying, StreamState.Stopped],
        [StreamState.Frozen] = [StreamState.Frozen],
    };

    public static bool CanMove(StreamState from, StreamState to) => Allowed[from].Contains(to);

    public static void CheckMove(long streamId, StreamState from, StreamState to)
    {
        if (!CanMove(from, to))
        {
            throw new InvalidStreamStateException(
                $"Stream {streamId} cannot go from {from} to {to}; from {from} it may go to {string.Join(", ", Allowed[from])}.");
        }
    }

    public static StreamState Parse(string text) =>
        Enum.TryParse<StreamState>(text, ignoreCase: true, out var s) && Enum.IsDefined(s)
            ? s
            : throw new ArgumentException($"Unknown stream state '{text}'; valid: {string.Join(", ", Enum.GetNames<StreamState>())}.");

    public static OnDdl ParseOnDdl(string text) => text.Trim().ToUpperInvariant() switch
    {
        "IGNORE" or "" => OnDdl.Ignore,
        "STOP" => OnDdl.Stop,
        "EXEC" => OnDdl.Exec,
        "EXEC_IGNORE" => OnDdl.ExecIgnore,
        _ => throw new ArgumentException($"Unknown on_ddl '{text}'; valid: IGNORE, STOP, EXEC, EXEC_IGNORE."),
    };

    public static string Name(OnDdl onDdl) => onDdl switch
    {
        OnDdl.Stop => "STOP",
        OnDdl.Exec => "EXEC",
        OnDdl.ExecIgnore => "EXEC_IGNORE",
        _ => "IGNORE",
    };
}
