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

    public RoutedStatement Routed { get; } = routed;

    /// <summary>The client's text, routed again when a cutover hold ends (the rules may have changed).</summary>
    public string OriginalSql { get; init; } = routed.Sql;

    /// <summary>Where it runs: the routed target, or the session's target when it was prepared.</summary>
    public KeyspaceTarget Target { get; } = target;

    /// <summary>The routing snapshot it was routed on: executed on a newer one, it is routed again first.</summary>
    public RoutingSnapshot? RoutedOn { get; set; }

    public int ParameterCount { get; } = parameterCount;

    private int[]? _placeholders;

    /// <summary>Where the '?' placeholders of <see cref="OriginalSql"/> are (a sharded execute writes the values there).</summary>
    public int[] Placeholders => _placeholders ??= Durable.Routing.Sharding.PreparedText.Placeholders(OriginalSql);

    public int ColumnCount { get; } = columnCount;

    /// <summary>2 bytes per parameter, as the client last sent them (null before the first execute with new_params_bound).</summary>
    public byte[]? ParameterTypes { get; set; }

    /// <summary>COM_STMT_SEND_LONG_DATA parts since the last execute or reset, replayed on the connection that executes.</summary>
    public List<byte[]> LongData { get; } = [];

    /// <summary>
    /// The same client statement routed anew (a switch changed where or as what it runs): a new object, so no backend
    /// connection takes it for the one it prepared before; parameter types and pending long data carry over.
    /// </summary>
    public PreparedStatement RoutedAgain(RoutedStatement routed, KeyspaceTarget target, RoutingSnapshot? snapshot)
    {
        var again = new PreparedStatement(Id, routed, target, ParameterCount, ColumnCount) { OriginalSql = OriginalSql, RoutedOn = snapshot, ParameterTypes = ParameterTypes };
        again.LongData.AddRange(LongData);
        return again;
    }
}
