namespace Durable.Routing;

/// <summary>
/// Routes statements as vtgate does for unsharded keyspaces. Pure and thread-safe: the gateway calls it for every
/// COM_QUERY and COM_STMT_PREPARE with the session's context.
/// </summary>
public interface IStatementRouter
{
    /// <summary>
    /// Analyses <paramref name="sql"/> (one statement or several, separated by ';'; '?' placeholders allowed) and
    /// returns where and how to run it.
    /// </summary>
    /// <exception cref="GatewaySqlException">
    /// The text is outside the supported grammar (the message names the position), names an unknown keyspace, or its
    /// tables resolve to different keyspaces (the message names them). Nothing must be sent anywhere then.
    /// </exception>
    RoutedStatement Route(string sql, RouteContext context);
}
