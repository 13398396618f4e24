using Durable.Topology;

namespace Durable.Routing;

/// <summary>
/// The errors the gateway answers itself, each a MySQL error a client library maps (code, SQLSTATE) with a message that
/// names the bad value and what would be valid. One place, so the texts stay alike and docs/gateway-grammar.md can list them.
/// </summary>
internal static class SqlErrors
{
    private const string Grammar = "the statements the gateway routes are listed in docs/gateway-grammar.md";

    /// <summary>1064 at a position, as MySQL words it (near the text from there, at a line), plus what was expected.</summary>
    public static GatewaySqlException Syntax(string sql, int offset, string problem)
    {
        offset = Math.Clamp(offset, 0, sql.Length);
        var line = 1;
        var column = 1;
        for (var i = 0; i < offset; i++)
        {
            if (sql[i] == '\n')
            {
                line++;
                column = 1;
            }
            else
            {
                column++;
            }
        }

        var near = sql.AsSpan(offset);
        if (near.Length > 80)
        {
            near = near[..80];
        }

        return new GatewaySqlException(GatewaySqlException.ParseError, "42000",
            $"You have an error in your SQL syntax near '{near}' at line {line} column {column} (position {offset}): {problem}; {Grammar}");
    }

    /// <summary>A statement MySQL knows but the gateway does not route (1235), with the reason.</summary>
    public static GatewaySqlException Unsupported(string what, string why) =>
        new(GatewaySqlException.NotSupported, "42000", $"{what} is not supported through the gateway: {why}");

    public static GatewaySqlException UnknownKeyspace(string name, RoutingSnapshot snapshot) =>
        new(GatewaySqlException.BadDb, "42000",
            $"Unknown database '{name}': the keyspaces are {KnownKeyspaces(snapshot)} (optionally with @primary, @replica or @rdonly)");

    public static GatewaySqlException NoDatabase(string table, RoutingSnapshot snapshot) =>
        new(GatewaySqlException.NoDb, "3D000",
            $"No database selected: table '{table}' is in no keyspace's VSchema and no rule routes it; USE a keyspace ({KnownKeyspaces(snapshot)}) or qualify the table as <keyspace>.{table}");

    public static GatewaySqlException NoDatabaseForShow(string what) =>
        new(GatewaySqlException.NoDb, "3D000", $"No database selected: {what} needs a keyspace; USE one or name it with FROM <keyspace>");

    public static GatewaySqlException Ambiguous(string table, IEnumerable<string> keyspaces) =>
        new(GatewaySqlException.Unknown, "HY000",
            $"ambiguous table reference: {table} is in the VSchema of keyspaces {string.Join(", ", keyspaces)}; qualify it as <keyspace>.{table} or USE one of them");

    public static GatewaySqlException Disabled(string table, string rule) =>
        new(GatewaySqlException.Unknown, "HY000", $"table {table} has been disabled: routing rule '{rule}' has no to_tables");

    public static GatewaySqlException Sharded(string keyspace, string table) =>
        new(GatewaySqlException.NotSupported, "42000",
            $"table {table} resolves to keyspace '{keyspace}', which is sharded: the gateway routes unsharded keyspaces only");

    public static GatewaySqlException CrossKeyspace(string tables) =>
        new(GatewaySqlException.NotSupported, "42000",
            $"a statement's tables must all resolve to one keyspace and tablet type, but {tables}; run one statement per keyspace");

    public static GatewaySqlException WriteOnNonPrimary(string statement, KeyspaceTarget target) =>
        new(GatewaySqlException.Unknown, "HY000",
            $"{statement} statement with a {TabletTypes.Name(target.Type).ToLowerInvariant()} target ({target}): writes run on the primary; use '{target.Keyspace}' or '{target.Keyspace}@primary'");

    private static string KnownKeyspaces(RoutingSnapshot snapshot) =>
        snapshot.Keyspaces.Count == 0 ? "(none)" : string.Join(", ", snapshot.Keyspaces.Keys.Order(StringComparer.Ordinal).Select(k => $"'{k}'"));
}
