using Durable.MySql;
using Durable.MySql.Binlog;
using Durable.MySql.Sql;

namespace Durable.Replication;

// The table plan: each target table's schema, routing and column maps, and the statements built per table.
public sealed partial class StreamApplier
{
    private readonly Dictionary<string, TableContext> _tables = new(StringComparer.OrdinalIgnoreCase);

    // The column map of the last table map seen: every transaction repeats its table map, usually for the same table.
    private TableMap? _lastTableMap;
    private TableContext? _lastTableMapContext;
    private ColumnMap? _lastColumnMap;

    /// <summary>Drops cached table schemas (after a DDL changed them).</summary>
    public void ForgetTables()
    {
        _tables.Clear();
        (_lastTableMap, _lastTableMapContext, _lastColumnMap) = (null, null, null);
    }

    public async Task<TableContext> TableAsync(string table, CancellationToken ct)
    {
        if (!_tables.TryGetValue(table, out var context))
        {
            var rule = Stream.Filter.Find(table) ?? throw new ArgumentException($"Table '{table}' is not in stream {Stream.Id}'s filter.");
            var schema = await TableSchema.LoadAsync(_target, Stream.TargetDb, rule.Table, ct).ConfigureAwait(false);
            if (schema.PrimaryKey.Count == 0)
            {
                throw new TerminalReplicationException($"Target table {Stream.TargetDb}.{rule.Table} has no primary key; rows cannot be applied by key.");
            }

            context = new TableContext(schema, rule.KeyRangeFilter is null ? null : new RowRouter(rule.KeyRangeFilter, schema), Stream.Options.SourceTimeZone);
            _tables[table] = context;
        }

        return context;
    }

    /// <summary>The column map of a ROWS event's table map, from the last one seen when the table map repeats.</summary>
    private ColumnMap ColumnMapFor(TableMap tableMap, TableContext table)
    {
        if (ReferenceEquals(tableMap, _lastTableMap) && ReferenceEquals(table, _lastTableMapContext))
        {
            return _lastColumnMap!;
        }

        var map = table.MapFor(tableMap);
        (_lastTableMap, _lastTableMapContext, _lastColumnMap) = (tableMap, table, map);
        return map;
    }

    /// <summary>A target table with its routing and the column maps of the source table versions seen in the binlog.</summary>
    /// <param name="sourceTimeZone">--source-time-zone: DATETIME values are written through CONVERT_TZ to UTC.</param>
    public sealed class TableContext(TableSchema schema, RowRouter? router, string? sourceTimeZone = null)
    {
        private readonly Dictionary<string, ColumnMap> _maps = new(StringComparer.Ordinal);

        /// <summary>The row changes of this table not written yet (MariaDB compaction), null when there are none.</summary>
        internal KeyedChanges? Changes { get; set; }

        public TableSchema Schema { get; } = schema;

        public RowRouter? Router { get; } = router;

        private InsertStatementBuilder? _insert;
        private InsertStatementBuilder? _upsert;

        public InsertStatementBuilder NewInsert(SqlQuoter quoter, int budget, string? suffix = null) => new(
            InsertVerb.Insert, Schema.Database, Schema.Name, WritableNames, budget, quoter, WritableStyles, suffix, ValueExpressions(quoter));

        /// <summary>The written columns, in order.</summary>
        public IReadOnlyList<string> WritableNames => Schema.Writable.Select(i => Schema.Columns[i].Name).ToList();

        /// <summary>How each written column's value is written as a literal.</summary>
        public IReadOnlyList<LiteralStyle> WritableStyles => Schema.Writable.Select(i => Schema.Columns[i].Style).ToList();

        /// <summary>
        /// Per written column, the expression its value is stored through, or null: with a source time zone, DATETIME
        /// (which has no zone) goes through CONVERT_TZ from the source's wall clock to UTC; TIMESTAMP is UTC already.
        /// </summary>
        public IReadOnlyList<string?>? ValueExpressions(SqlQuoter quoter) => sourceTimeZone is null
            ? null
            : Schema.Writable.Select(i => string.Equals(Schema.Columns[i].DataType, "datetime", StringComparison.OrdinalIgnoreCase)
                ? $"CONVERT_TZ({{0}}, {quoter.String(sourceTimeZone)}, '+00:00')" : null).ToList();

        /// <summary>
        /// The group writer's multi-row INSERT, made once per table (its buffer is too large to make per group). Rows a
        /// failed group left in it are dropped: that group's transaction was rolled back.
        /// </summary>
        internal InsertStatementBuilder Insert(SqlQuoter quoter, int budget)
        {
            _insert ??= NewInsert(quoter, budget);
            _insert.Finish();
            return _insert;
        }

        /// <summary>
        /// The group writer's in-place upsert: "ON DUPLICATE KEY UPDATE c = VALUES(c)" for every written column outside
        /// the key (the key's own first column when it has no other, so the clause is never empty). The first
        /// assignment also counts the rows found in @durable_found (its update clause runs once per existing row);
        /// both branches of its IF are the column's own value, so the column's type is kept whatever it is.
        /// </summary>
        internal InsertStatementBuilder Upsert(SqlQuoter quoter, int budget)
        {
            if (_upsert is null)
            {
                var set = Schema.Writable.Where(i => !Schema.PrimaryKey.Contains(i)).DefaultIfEmpty(Schema.PrimaryKey[0])
                    .Select(i => SqlQuoter.Identifier(Schema.Columns[i].Name))
                    .Select((c, n) => n == 0
                        ? $"{c} = IF(@durable_found := @durable_found + 1, VALUES({c}), VALUES({c}))"
                        : $"{c} = VALUES({c})");
                _upsert = NewInsert(quoter, budget, "ON DUPLICATE KEY UPDATE " + string.Join(", ", set));
            }

            _upsert.Finish();
            return _upsert;
        }

        public ColumnMap MapFor(TableMap map)
        {
            if (!map.HasColumnNames)
            {
                throw new TerminalReplicationException(
                    $"The binlog has no column names for {map.Schema}.{map.Table}; set binlog_row_metadata=FULL on the source so rows can be matched to the target by name.");
            }

            var key = string.Join("\u0001", map.Columns.Select(c => c.Name));
            if (!_maps.TryGetValue(key, out var columnMap))
            {
                var indexes = new int[Schema.Columns.Count];
                Array.Fill(indexes, -1);
                foreach (var column in map.Columns)
                {
                    var target = Schema.IndexOf(column.Name!);
                    if (target is null)
                    {
                        throw new TerminalReplicationException(
                            $"Column '{column.Name}' of source table {map.Schema}.{map.Table} does not exist on target {Schema.Database}.{Schema.Name}.");
                    }

                    indexes[target.Value] = column.Index;
                }

                foreach (var i in Schema.Writable.Concat(Schema.PrimaryKey))
                {
                    if (indexes[i] < 0)
                    {
                        throw new TerminalReplicationException(
                            $"Target column {Schema.Name}.{Schema.Columns[i].Name} has no source column in the binlog of {map.Schema}.{map.Table}.");
                    }
                }

                columnMap = new ColumnMap(indexes);
                _maps[key] = columnMap;
            }

            return columnMap;
        }
    }

    /// <summary>Where each target column's value is in a binlog row image.</summary>
    public sealed class ColumnMap(int[] sourceIndexes)
    {
        public MySqlValue[] Align(MySqlValue[] image)
        {
            var row = new MySqlValue[sourceIndexes.Length];
            for (var i = 0; i < row.Length; i++)
            {
                row[i] = sourceIndexes[i] >= 0 ? image[sourceIndexes[i]] : MySqlValue.Null;
            }

            return row;
        }
    }
}
