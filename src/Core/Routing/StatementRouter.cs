using System.Text;
using Durable.Topology;

namespace Durable.Routing;

/// <summary>
/// Routes statements as vtgate does for unsharded keyspaces: every table a text names is resolved through the routing
/// rules (<see cref="SnapshotRoutes"/>), all of them must land on one keyspace target, writes only on a primary, and
/// the text is rewritten for the tablets (keyspace qualifiers to databases, routed table names, DATABASE() to the
/// session's keyspace) with everything else kept byte for byte. A text that needs no rewriting is returned as the same
/// string. Stateless and thread-safe; the analysis buffers are per thread.
/// </summary>
public sealed class StatementRouter : IStatementRouter
{
    /// <summary>
    /// The keyspace target a database name stands for (the handshake's database, COM_INIT_DB): <c>ks[@type]</c> of a
    /// keyspace of <paramref name="snapshot"/>, as the same shared instance statements are routed to.
    /// </summary>
    /// <exception cref="GatewaySqlException">1049 naming the keyspaces when it is not one (or names an unknown tablet type).</exception>
    public static KeyspaceTarget ResolveDatabase(string database, RoutingSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(snapshot);
        var parsed = KeyspaceTarget.Parse(database);
        var routes = SnapshotRoutes.For(snapshot);
        var keyspace = routes.Keyspace(parsed.Keyspace);
        return routes.Target(keyspace.Name, parsed.Type);
    }

    public RoutedStatement Route(string sql, RouteContext context)
    {
        ArgumentNullException.ThrowIfNull(sql);
        ArgumentNullException.ThrowIfNull(context);
        var analysis = StatementAnalyzer.ForThread();
        try
        {
            analysis.Analyze(sql);
            return new Routing(sql, context, analysis).Run();
        }
        finally
        {
            analysis.Release();
        }
    }

    /// <summary>One statement's routing: the tables resolved, the target agreed, the rewrites collected.</summary>
    private ref struct Routing(string sql, RouteContext context, StatementAnalyzer analysis)
    {
        private readonly SnapshotRoutes _routes = SnapshotRoutes.For(context.Snapshot);
        private readonly KeyspaceTarget? _session = context.Session;
        private KeyspaceTarget? _target;
        private TableRoute? _single;
        private List<QualifiedTable>? _many;
        private List<(int Start, int Length, string Text)>? _rewrites;
        private bool _conflict;
        private bool _system;
        private RoutedKeyspace? _sharded;

        public RoutedStatement Run()
        {
            var tokens = analysis.Tokens;
            foreach (var reference in analysis.Tables)
            {
                Table(tokens, reference);
            }

            if (_conflict)
            {
                throw CrossKeyspace(tokens);
            }

            var parts = analysis.Parts;
            var effects = SessionEffects.None;
            var writes = false;
            StatementPart? writer = null;
            KeyspaceTarget? use = null;
            foreach (var part in parts)
            {
                effects |= part.Effects;
                if (part.Writes && writer is null)
                {
                    writes = true;
                    writer = part;
                }

                if (part.NeedsKeyspace is not null)
                {
                    if (_session is null)
                    {
                        throw SqlErrors.NoDatabaseForShow(part.NeedsKeyspace);
                    }

                    _routes.Keyspace(_session.Keyspace);
                    Merge(_routes.Target(_session.Keyspace, _session.Type));
                    if (_conflict)
                    {
                        throw CrossKeyspace(tokens);
                    }
                }

                if (part.UseStart >= 0)
                {
                    if (parts.Count > 1)
                    {
                        throw SqlErrors.Unsupported("USE inside a multi-statement text", "the statements after it would be routed against the old keyspace; send USE on its own");
                    }

                    var name = sql[tokens[part.UseStart].ValueStart..(tokens[part.UseEnd - 1].Start + tokens[part.UseEnd - 1].Length)];
                    if (tokens[part.UseStart].Kind == SqlTokenKind.QuotedIdentifier)
                    {
                        name = tokens[part.UseStart].Name(sql);
                    }

                    var parsed = KeyspaceTarget.Parse(name);
                    var keyspace = _routes.Keyspace(parsed.Keyspace);
                    use = _routes.Target(parsed.Keyspace, parsed.Type);

                    // The text a backend connection can run: USE of the keyspace's database.
                    Rewrite(tokens[part.UseStart].Start, tokens[part.UseEnd - 1].End - tokens[part.UseStart].Start, TableRoute.Quote(keyspace.DbName));
                }

                if (part.Local != LocalCommand.None && parts.Count > 1)
                {
                    throw SqlErrors.Unsupported("SHOW " + part.Local + " inside a multi-statement text", "the gateway answers it itself; send it on its own");
                }
            }

            if (writes && _target is not null && _target.Type != TabletType.Primary)
            {
                throw SqlErrors.WriteOnNonPrimary(Verb(writer!.Value), _target);
            }

            foreach (var call in analysis.DatabaseCalls)
            {
                if (_system && analysis.SchemaValues.Contains(call))
                {
                    continue; // compared with a schema column: rewritten below to the keyspace's database
                }

                var literal = _session is null ? "NULL" : "'" + _session.Keyspace.Replace("'", "''", StringComparison.Ordinal) + "'";
                Rewrite(tokens[call].Start, tokens[call + 2].End - tokens[call].Start, literal);
            }

            if (_system)
            {
                SchemaValues(tokens);
            }

            var first = parts[0];
            return new RoutedStatement
            {
                Kind = parts.Count == 1 ? first.Kind : StatementKind.Multi,
                Sql = first.Kind == StatementKind.Local && parts.Count == 1 ? string.Empty : Rewritten(),
                Target = _target,
                Tables = _single is not null ? _single.One : _many is not null ? _many.ToArray() : [],
                Writes = writes,
                Effects = effects,
                UseKeyspace = use,
                Local = parts.Count == 1 ? first.Local : LocalCommand.None,
                Parts = parts.Count,
                ShardedKeyspace = _sharded,
            };
        }

        private void Table(List<SqlToken> tokens, TableReference reference)
        {
            if (reference.Role == TableRole.KeyspaceOnly)
            {
                var named = KeyspaceTarget.Parse(tokens[reference.Qualifier].Name(sql));
                var keyspace = _routes.Keyspace(named.Keyspace);
                var hasType = tokens[reference.Qualifier].NameSpan(sql).Contains('@');
                Merge(_routes.Target(keyspace.Name, hasType ? named.Type : _session?.Type ?? TabletType.Primary));
                Rewrite(tokens[reference.Qualifier].Start, tokens[reference.Qualifier].Length, TableRoute.Quote(keyspace.DbName));
                return;
            }

            var nameToken = tokens[reference.Name];
            if (reference.Qualifier < 0 && (NamesCte(nameToken) || (reference.Role == TableRole.DeleteTarget && NamesAliasOrTable(tokens, nameToken))))
            {
                return;
            }

            TableRoute route;
            if (reference.Qualifier < 0)
            {
                route = nameToken.Escaped ? _routes.Resolve(nameToken.Name(sql).AsSpan(), _session) : _routes.Resolve(nameToken.NameSpan(sql), _session);
            }
            else
            {
                route = _routes.Resolve(tokens[reference.Qualifier].Name(sql), nameToken.Name(sql), _session);
            }

            if (route.System)
            {
                _system = true;
                if (reference.Writes)
                {
                    throw SqlErrors.Unsupported($"writing {sql.Substring(tokens[reference.Qualifier].Start, nameToken.End - tokens[reference.Qualifier].Start)}",
                        "the system schemas belong to each tablet");
                }

                return;
            }

            Merge(route.Target);
            Add(route);
            _sharded ??= route.ShardedKeyspace;
            if (reference.Qualifier >= 0)
            {
                Rewrite(tokens[reference.Qualifier].Start, tokens[reference.Qualifier].Length, route.QuotedDb);
            }

            if (!nameToken.NameSpan(sql).SequenceEqual(route.Table) || nameToken.Escaped)
            {
                if (nameToken.Escaped && nameToken.Name(sql) == route.Table)
                {
                    return;
                }

                // t routed to t2: FROM t becomes FROM `t2` AS `t`, so columns written t.col still name it.
                Rewrite(nameToken.Start, nameToken.Length, reference.CanAlias ? route.QuotedTable + " AS " + TableRoute.Quote(nameToken.Name(sql)) : route.QuotedTable);
            }
        }

        /// <summary>
        /// vtgate's information_schema routing: a keyspace compared with a schema column (<c>TABLE_SCHEMA = 'commerce'</c>)
        /// becomes its database (<c>'vt_commerce'</c>) and the statement runs in that keyspace; <c>= DATABASE()</c> becomes
        /// the session keyspace's database. Other values (a database name, 'mysql') are left as written.
        /// </summary>
        private void SchemaValues(List<SqlToken> tokens)
        {
            foreach (var index in analysis.SchemaValues)
            {
                var value = tokens[index];
                if (value.Kind != SqlTokenKind.String)
                {
                    var database = _session is null ? null : _routes.Snapshot.Keyspaces.GetValueOrDefault(_session.Keyspace)?.DbName;
                    Rewrite(value.Start, tokens[index + 2].End - value.Start, database is null ? "NULL" : "'" + database + "'");
                    continue;
                }

                var text = sql.AsSpan(value.Start, value.Length);
                if (text.Length < 2 || text[0] is not ('\'' or '"') || text[1..^1].ContainsAny('\\', text[0]))
                {
                    continue; // an introducer, escapes or doubled quotes: not a plain keyspace name
                }

                var named = text[1..^1].ToString();
                var at = named.IndexOf('@', StringComparison.Ordinal);
                var keyspaceName = at < 0 ? named : named[..at];
                if (!_routes.Snapshot.Keyspaces.TryGetValue(keyspaceName, out var keyspace))
                {
                    continue;
                }

                var type = at < 0 ? _session?.Type ?? TabletType.Primary : KeyspaceTarget.Parse(named).Type;
                Merge(_routes.Target(keyspace.Name, type));
                Rewrite(value.Start, value.Length, "'" + keyspace.DbName + "'");
            }

            if (_conflict)
            {
                throw CrossKeyspace(analysis.Tokens);
            }
        }

        private readonly bool NamesCte(SqlToken name)
        {
            foreach (var cte in analysis.CteNames)
            {
                if (analysis.Tokens[cte].NameSpan(sql).Equals(name.NameSpan(sql), StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }

            return false;
        }

        /// <summary>A multi-table DELETE's target names an alias or a table of its references (already routed there).</summary>
        private readonly bool NamesAliasOrTable(List<SqlToken> tokens, SqlToken name)
        {
            foreach (var alias in analysis.Aliases)
            {
                if (tokens[alias].NameSpan(sql).Equals(name.NameSpan(sql), StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }

            foreach (var other in analysis.Tables)
            {
                if (other.Role == TableRole.Table && tokens[other.Name].NameSpan(sql).Equals(name.NameSpan(sql), StringComparison.Ordinal))
                {
                    return true;
                }
            }

            return false;
        }

        private void Merge(KeyspaceTarget target)
        {
            if (_target is null)
            {
                _target = target;
            }
            else if (!ReferenceEquals(_target, target) && !_target.Equals(target))
            {
                _conflict = true;
            }
        }

        private void Add(TableRoute route)
        {
            if (_single is null && _many is null)
            {
                _single = route;
                return;
            }

            if (_many is null)
            {
                if (_single!.Qualified.Equals(route.Qualified))
                {
                    return;
                }

                _many = [_single.Qualified];
                _single = null;
            }

            if (!_many.Contains(route.Qualified))
            {
                _many.Add(route.Qualified);
            }
        }

        private void Rewrite(int start, int length, string text) => (_rewrites ??= []).Add((start, length, text));

        private readonly string Rewritten()
        {
            if (_rewrites is null)
            {
                return sql;
            }

            _rewrites.Sort(static (a, b) => a.Start.CompareTo(b.Start));
            var text = new StringBuilder(sql.Length + 32);
            var at = 0;
            foreach (var (start, length, replacement) in _rewrites)
            {
                text.Append(sql, at, start - at).Append(replacement);
                at = start + length;
            }

            return text.Append(sql, at, sql.Length - at).ToString();
        }

        /// <summary>1235 naming each table as written and where it resolves (only built when targets differ).</summary>
        private readonly GatewaySqlException CrossKeyspace(List<SqlToken> tokens)
        {
            var seen = new List<string>();
            foreach (var reference in analysis.Tables)
            {
                var start = tokens[reference.Qualifier >= 0 ? reference.Qualifier : reference.Name].Start;
                var end = reference.Name >= 0 ? tokens[reference.Name].End : tokens[reference.Qualifier].End;
                if (reference.Qualifier >= 0 && reference.Name >= 0 && tokens[reference.Qualifier].Start > tokens[reference.Name].Start)
                {
                    start = tokens[reference.Name].Start;
                    end = tokens[reference.Name].End;
                }

                string where;
                try
                {
                    if (reference.Role == TableRole.KeyspaceOnly)
                    {
                        where = KeyspaceTarget.Parse(tokens[reference.Qualifier].Name(sql)).ToString();
                    }
                    else
                    {
                        var nameToken = tokens[reference.Name];
                        if (reference.Qualifier < 0 && (NamesCte(nameToken) || (reference.Role == TableRole.DeleteTarget && NamesAliasOrTable(tokens, nameToken))))
                        {
                            continue;
                        }

                        var route = reference.Qualifier < 0
                            ? _routes.Resolve(nameToken.Name(sql).AsSpan(), _session)
                            : _routes.Resolve(tokens[reference.Qualifier].Name(sql), nameToken.Name(sql), _session);
                        if (route.System)
                        {
                            continue;
                        }

                        where = $"{route.Target} (as {route.Qualified})";
                    }
                }
                catch (GatewaySqlException e)
                {
                    where = e.Message;
                }

                var line = $"{sql[start..end]} resolves to {where}";
                if (!seen.Contains(line))
                {
                    seen.Add(line);
                }
            }

            if (analysis.Parts.Exists(p => p.NeedsKeyspace is not null) && _session is not null)
            {
                seen.Add($"{analysis.Parts.First(p => p.NeedsKeyspace is not null).NeedsKeyspace} runs on the session's {_session}");
            }

            return SqlErrors.CrossKeyspace(string.Join("; ", seen));
        }

        private static string Verb(StatementPart part) => part.Kind switch
        {
            StatementKind.Ddl => "DDL",
            StatementKind.LockTables => "LOCK TABLES ... WRITE",
            StatementKind.Select => "SELECT ... FOR UPDATE",
            _ => part.Kind.ToString().ToUpperInvariant(),
        };
    }
}
