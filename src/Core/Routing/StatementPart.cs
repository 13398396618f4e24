namespace Durable.Routing;

/// <summary>
/// One statement of a (possibly multi-statement) text, as the analyzer found it: its kind, whether it writes, its
/// session effects, the keyspace USE names (token index, -1 if none), the gateway-answered command, and
/// <see cref="NeedsKeyspace"/> when it must run in a keyspace although it names none (SHOW TABLES without FROM).
/// </summary>
internal readonly record struct StatementPart(
    StatementKind Kind,
    bool Writes,
    SessionEffects Effects,
    LocalCommand Local,
    int UseStart,
    int UseEnd,
    string? NeedsKeyspace,
    int FirstToken);
