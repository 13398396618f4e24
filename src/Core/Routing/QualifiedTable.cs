namespace Durable.Routing;

/// <summary>A table in a keyspace, after the routing rules: where a statement's rows really live.</summary>
public sealed record QualifiedTable(string Keyspace, string Table)
{
    public override string ToString() => $"{Keyspace}.{Table}";
}
