using Durable.Topology;

namespace Durable.Routing;

/// <summary>
/// Where a statement runs: a keyspace and the tablet type to read it from, as an application names it in its database
/// name (<c>commerce</c>, <c>commerce@replica</c>, <c>commerce@rdonly</c>, <c>commerce@primary</c>), as vtgate reads it.
/// </summary>
public sealed record KeyspaceTarget(string Keyspace, TabletType Type)
{
    /// <summary>Parses <c>keyspace[@primary|@replica|@rdonly]</c>; no suffix means the primary.</summary>
    public static KeyspaceTarget Parse(string text)
    {
        var at = text.IndexOf('@', StringComparison.Ordinal);
        if (at < 0)
        {
            return new KeyspaceTarget(text, TabletType.Primary);
        }

        var type = text[(at + 1)..].ToUpperInvariant() switch
        {
            "PRIMARY" or "MASTER" => TabletType.Primary,
            "REPLICA" => TabletType.Replica,
            "RDONLY" => TabletType.Rdonly,
            _ => throw new GatewaySqlException(GatewaySqlException.BadDb, "42000",
                $"Unknown database '{text}': the tablet type after '@' must be primary, replica or rdonly"),
        };
        return new KeyspaceTarget(text[..at], type);
    }

    public override string ToString() => Type == TabletType.Primary ? Keyspace : $"{Keyspace}@{TabletTypes.Name(Type).ToLowerInvariant()}";
}
