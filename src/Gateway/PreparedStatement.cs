using Durable.Routing;

namespace Durable.Gateway;

/// <summary>
/// A statement a client prepared through the gateway: the gateway's own id, the routed text (prepared again,
/// transparently, on any backend connection it is executed on), and what the backend's prepare answered. Parameter
/// types from the last execute that sent them are kept, because a re-prepared statement needs them on its first execute.
/// </summary>
internal sealed class PreparedStatement(uint id, RoutedStatement routed, KeyspaceTarget target, int parameterCount, int columnCount)
{
    public uint Id { get; } = id;

    public RoutedStatement Routed { get; private set; } = routed;

    /// <summary>The client's text, routed again when a cutover hold ends (the rules may have changed).</summary>
    public string OriginalSql { get; init; } = routed.Sql;

    /// <summary>Where it runs: the routed target, or the session's target when it was prepared.</summary>
    public KeyspaceTarget Target { get; private set; } = target;

    /// <summary>
    /// After a cutover hold the statement is routed again; when the text sent to the backend changed (a qualified
    /// name now maps to another database), the backends' earlier preparations are stale.
    /// </summary>
    /// <returns>True when the backend text changed.</returns>
    public bool Reroute(RoutedStatement routed, KeyspaceTarget target)
    {
        var changed = !string.Equals(routed.Sql, Routed.Sql, StringComparison.Ordinal);
        Routed = routed;
        Target = target;
        return changed;
    }

    public int ParameterCount { get; } = parameterCount;

    public int ColumnCount { get; } = columnCount;

    /// <summary>2 bytes per parameter, as the client last sent them (null before the first execute with new_params_bound).</summary>
    public byte[]? ParameterTypes { get; set; }

    /// <summary>COM_STMT_SEND_LONG_DATA parts since the last execute or reset, replayed on the connection that executes.</summary>
    public List<byte[]> LongData { get; } = [];
}
