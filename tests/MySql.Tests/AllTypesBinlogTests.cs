using System.Text;
using Durable.Core.Positions;
using Durable.MySql.Binlog;
using Durable.Testing;
using Xunit.Abstractions;

namespace Durable.MySql.Tests;

/// <summary>
/// The acceptance test of the row-value design: a table with every column type and edge values is read through
/// SELECT and through binlog row events (insert, update, delete), and the two must be identical value by value.
/// </summary>
[Trait("Category", "Integration")]
public sealed class AllTypesBinlogTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Every_column_type_reads_identically_through_select_and_binlog()
    {
        var db = TestServer.UniqueName("alltypes");
        await using var c = await TestServer.OpenDbaAsync();
        await c.ExecuteAsync("SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION', time_zone = '+00:00'");
        await c.ExecuteAsync($"CREATE DATABASE {db}");
        try
        {
            await c.ExecuteAsync($"USE {db}");
            await c.ExecuteAsync(AllTypesTable.CreateTable);
            var start = GtidPosition.Parse(await c.QueryScalarAsync("SELECT @@global.gtid_binlog_pos") ?? string.Empty, GtidFlavor.MariaDb);

            await c.ExecuteAsync("INSERT INTO all_types (" + AllTypesTable.Columns + ") VALUES " + string.Join(",", AllTypesTable.Rows));
            // A 20 MB blob: the row event is over 16 MiB, so it arrives split over several packets.
            await c.ExecuteAsync("INSERT INTO all_types (id, lb) VALUES (6, REPEAT(x'5A01', 10 * 1024 * 1024))");
            var inserted = await SelectAllAsync(c, exactFloat: true);

            await c.ExecuteAsync("UPDATE all_types SET ti = ti - 1, vc = CONCAT('u', IFNULL(vc, '')), dtm6 = '2001-02-03 04:05:06.070809', u = '11111111-2222-4333-8444-555555555555', lb = IFNULL(lb, x'00') WHERE id IN (3, 4, 5)");
            await c.ExecuteAsync("UPDATE all_types SET lb = REPEAT(x'01', 20 * 1024 * 1024 + 1) WHERE id = 6");
            var updated = await SelectAllAsync(c, exactFloat: true);
            await c.ExecuteAsync("DELETE FROM all_types");

            var inserts = new List<MySqlValue[]>();
            var updates = new List<RowChange>();
            var deletes = new List<MySqlValue[]>();
            var options = new BinlogStreamOptions { ServerId = (uint)Random.Shared.Next(1_000_000, 2_000_000), Start = start, HeartbeatPeriod = TimeSpan.FromSeconds(1) };
            await using (var stream = await BinlogStream.StartAsync(TestServer.Dba(), options))
            {
                using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
                while (deletes.Count < 6)
                {
                    var evt = await stream.ReadEventAsync(deadline.Token);
                    if (evt is RowsEvent rows && rows.Table.Schema == db && rows.Table.Table == "all_types")
                    {
                        Assert.True(rows.Table.HasColumnNames);
                        foreach (var row in rows.Rows)
                        {
                            switch (rows.Kind)
                            {
                                case RowsEventKind.Insert: inserts.Add(Own(row.After!)); break;
                                case RowsEventKind.Update: updates.Add(new RowChange(Own(row.Before!), Own(row.After!))); break;
                                default: deletes.Add(Own(row.Before!)); break;
                            }
                        }
                    }
                }
            }

            var columnNames = AllTypesTable.ColumnNames();
            // The binlog image has every column including the invisible one (last); SELECT listed the visible ones.
            Compare("insert", inserted, inserts.Select(r => r[..columnNames.Length]).ToList(), columnNames);
            Compare("update before", inserted.Where(r => r[0].AsString() is "3" or "4" or "5" or "6").ToList(), updates.Select(u => u.Before![..columnNames.Length]).ToList(), columnNames);
            Compare("update after", updated.Where(r => r[0].AsString() is "3" or "4" or "5" or "6").ToList(), updates.Select(u => u.After![..columnNames.Length]).ToList(), columnNames);
            Compare("delete", updated, deletes.Select(r => r[..columnNames.Length]).ToList(), columnNames);
            Assert.All(inserts, r => Assert.Equal("7", r[^1].AsString()));
            Assert.Equal(20 * 1024 * 1024, inserts.Single(r => r[0].AsString() == "6")[Array.IndexOf(columnNames, "lb")].Span.Length);
        }
        finally
        {
            await c.ExecuteAsync($"DROP DATABASE IF EXISTS {db}");
        }
    }

    private static MySqlValue[] Own(MySqlValue[] row) => row.Select(v => v.ToOwned()).ToArray();

    /// <param name="exactFloat">FLOAT as its exact value (CAST AS DOUBLE), as the binlog gives it (the applier writes it back); a plain SELECT prints six digits.</param>
    internal static async Task<List<MySqlValue[]>> SelectAllAsync(MySqlConnection c, bool exactFloat = false)
    {
        var rows = new List<MySqlValue[]>();
        var columns = string.Join(", ", AllTypesTable.ColumnNames().Select(n => exactFloat && n == "f" ? "CAST(f AS DOUBLE)" : n));
        await using var reader = await c.QueryAsync("SELECT " + columns + " FROM all_types ORDER BY id");
        while (await reader.ReadAsync())
        {
            rows.Add(reader.GetRow());
        }

        return rows;
    }

    private void Compare(string what, List<MySqlValue[]> expected, List<MySqlValue[]> actual, string[] names)
    {
        Assert.Equal(expected.Count, actual.Count);
        var problems = new StringBuilder();
        for (var r = 0; r < expected.Count; r++)
        {
            for (var i = 0; i < names.Length; i++)
            {
                if (expected[r][i] != actual[r][i])
                {
                    problems.AppendLine($"{what} row id={expected[r][0]} column {names[i]}: SELECT {expected[r][i]} binlog {actual[r][i]}");
                }
            }
        }

        output.WriteLine(problems.ToString());
        Assert.True(problems.Length == 0, problems.ToString());
    }
}
