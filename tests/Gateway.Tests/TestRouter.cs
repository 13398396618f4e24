using System.Text.RegularExpressions;
using Durable.Routing;
using Durable.Topology;

namespace Durable.Gateway.Tests;

/// <summary>
/// A deliberately small router for developing the gateway before i20-sql's StatementRouter is merged: the statement
/// kinds and session effects by leading keyword, the tables after FROM/INTO/UPDATE/JOIN in the session's keyspace,
/// keyspace-qualified names (ks.table) mapped to their databases, and two bad inputs (text starting with
/// "BOGUS", and tables of two keyspaces) refused as the real router refuses them.
/// </summary>
internal sealed partial class TestRouter : IStatementRouter
{
    public RoutedStatement Route(string sql, RouteContext context)
    {
        var text = sql.Trim().TrimEnd(';').Trim();
        var upper = text.ToUpperInvariant();
        if (upper.StartsWith("BOGUS", StringComparison.Ordinal))
        {
            throw new GatewaySqlException(GatewaySqlException.ParseError, "42000", "syntax error at position 1 near 'BOGUS'");
        }

        if (upper.StartsWith("SHOW VITESS_TABLETS", StringComparison.Ordinal))
        {
            return new RoutedStatement { Kind = StatementKind.Local, Local = LocalCommand.ShowVitessTablets };
        }

        if (upper.StartsWith("SHOW VITESS_KEYSPACES", StringComparison.Ordinal))
        {
            return new RoutedStatement { Kind = StatementKind.Local, Local = LocalCommand.ShowVitessKeyspaces };
        }

        if (upper.StartsWith("USE ", StringComparison.Ordinal))
        {
            var target = KeyspaceTarget.Parse(text[4..].Trim().Trim('`'));
            if (!context.Snapshot.Keyspaces.ContainsKey(target.Keyspace))
            {
                throw new GatewaySqlException(GatewaySqlException.BadDb, "42000", $"Unknown database '{target}'");
            }

            return new RoutedStatement { Kind = StatementKind.Use, Effects = SessionEffects.ChangesKeyspace, UseKeyspace = target };
        }

        if (upper is "BEGIN" or "START TRANSACTION")
        {
            return new RoutedStatement { Kind = StatementKind.Begin, Sql = text, Effects = SessionEffects.BeginsTransaction };
        }

        if (upper is "COMMIT" or "ROLLBACK")
        {
            return new RoutedStatement { Kind = upper == "COMMIT" ? StatementKind.Commit : StatementKind.Rollback, Sql = text, Effects = SessionEffects.EndsTransaction };
        }

        var parts = text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Length;
        var rewritten = sql;
        var keyspaces = new HashSet<string>(StringComparer.Ordinal);
        foreach (var keyspace in context.Snapshot.Keyspaces.Values)
        {
            var qualified = new Regex($@"\b{Regex.Escape(keyspace.Name)}\.(?=\w)");
            if (qualified.IsMatch(rewritten))
            {
                keyspaces.Add(keyspace.Name);
                rewritten = qualified.Replace(rewritten, keyspace.DbName + ".");
            }
        }

        var tables = new List<QualifiedTable>();
        foreach (Match m in TableName().Matches(text))
        {
            var name = m.Groups[2].Value;
            var dot = name.IndexOf('.');
            var keyspace = dot > 0 ? name[..dot] : context.Session?.Keyspace;
            if (keyspace is not null)
            {
                keyspaces.Add(keyspace);
                tables.Add(new QualifiedTable(keyspace, dot > 0 ? name[(dot + 1)..] : name));
            }
        }

        if (keyspaces.Count > 1)
        {
            throw new GatewaySqlException(GatewaySqlException.NotSupported, "42000",
                $"The statement's tables resolve to different keyspaces: {string.Join(", ", tables)}");
        }

        KeyspaceTarget? routedTarget = keyspaces.Count == 1
            ? new KeyspaceTarget(keyspaces.First(), context.Session is { } s && s.Keyspace == keyspaces.First() ? s.Type : TabletType.Primary)
            : null;
        var kind = upper.Split(' ', 2)[0] switch
        {
            "SELECT" => StatementKind.Select,
            "INSERT" => StatementKind.Insert,
            "UPDATE" => StatementKind.Update,
            "DELETE" => StatementKind.Delete,
            "SET" => StatementKind.Set,
            "SHOW" => StatementKind.Show,
            "CREATE" or "DROP" or "ALTER" or "TRUNCATE" => StatementKind.Ddl,
            "LOCK" => StatementKind.LockTables,
            "UNLOCK" => StatementKind.UnlockTables,
            _ => StatementKind.Select,
        };
        var effects = SessionEffects.None;
        if (kind == StatementKind.Set)
        {
            effects |= upper.Contains('@') && !upper.Contains("@@") ? SessionEffects.UserVariable : SessionEffects.CarriedSet;
            if (Regex.IsMatch(upper, @"AUTOCOMMIT\s*=\s*0"))
            {
                effects |= SessionEffects.AutocommitOff;
            }
        }

        if (upper.Contains("GET_LOCK(", StringComparison.Ordinal))
        {
            effects |= SessionEffects.AdvisoryLock;
        }

        if (upper.StartsWith("CREATE TEMPORARY", StringComparison.Ordinal))
        {
            effects |= SessionEffects.TemporaryTable;
        }

        if (kind == StatementKind.LockTables)
        {
            effects |= SessionEffects.LockTables;
        }

        if (kind == StatementKind.UnlockTables)
        {
            effects |= SessionEffects.UnlockTables;
        }

        return new RoutedStatement
        {
            Kind = parts > 1 ? StatementKind.Multi : kind,
            Sql = rewritten,
            Target = routedTarget,
            Tables = tables,
            Writes = kind is StatementKind.Insert or StatementKind.Update or StatementKind.Delete or StatementKind.Ddl,
            Effects = effects,
            Parts = parts,
        };
    }

    [GeneratedRegex(@"\b(FROM|INTO|UPDATE|JOIN|TABLE)\s+`?([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)?)`?", RegexOptions.IgnoreCase)]
    private static partial Regex TableName();
}
