using Durable.MySql.Sql;
using Durable.Testing;

namespace Durable.MySql.Tests;

/// <summary>LOAD DATA LOCAL INFILE from memory (the copy's fast path) against the real server.</summary>
[Trait("Category", "Integration")]
public sealed class LoadLocalDataTests
{
    private const string Session = "SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION', time_zone = '+00:00'";

    [Fact]
    public async Task Every_column_type_and_every_byte_that_needs_escaping_loads_exactly_as_read()
    {
        var db = TestServer.UniqueName("loaddata");
        await using var source = await TestServer.OpenDbaAsync();
        await source.ExecuteAsync($"CREATE DATABASE `{db}`");
        try
        {
            await source.ExecuteAsync($"USE `{db}`");
            await source.ExecuteAsync(Session);
            await source.ExecuteAsync(AllTypesTable.CreateTable);
            await source.ExecuteAsync(AllTypesTable.CreateTable.Replace("CREATE TABLE all_types", "CREATE TABLE all_types_copy", StringComparison.Ordinal));
            await source.ExecuteAsync("INSERT INTO all_types (" + AllTypesTable.Columns + ") VALUES " + string.Join(",", AllTypesTable.Rows));
            // The separators, the escape, NUL, CR, a text that reads as the NULL marker, empty values, and bytes of a
            // binary column that would be separators in text.
            await source.ExecuteAsync("""
                INSERT INTO all_types (id, vc, tx, tt, c, vb, bl, cu, j) VALUES
                  (10, CONCAT('a', CHAR(9), 'b', CHAR(10), 'c\\d', CHAR(13), 'e', CHAR(0), 'f\\'), '\\N', '', 'N', x'5C090A0D004E', x'', 'ÿ\\', '"\\t"'),
                  (11, '\\', 'N\\', '\\\\N', '', x'', NULL, '', '{}')
                """);

            var columns = AllTypesTable.ColumnNames();
            await using var target = await MySqlConnection.OpenAsync(TestServer.Dba(database: db) with { AllowLocalInfile = true });
            await target.ExecuteAsync(Session);
            var parts = 0;
            long loaded = 0;
            await using (var reader = await source.QueryAsync("SELECT " + AllTypesTable.Columns + " FROM all_types ORDER BY id"))
            {
                var styles = reader.Columns.Select(InsertStatementBuilder.StyleFor).ToList();
                Assert.Contains(LiteralStyle.Binary, styles);
                // A small budget: several parts, and rows larger than a part still go whole.
                var load = new LoadDataBuilder(db, "all_types_copy", columns, styles, 64 * 1024);
                async Task SendAsync(byte[] part, long rows)
                {
                    // Small packets: every part (and the 100 kB values) is cut across many packets of the upload.
                    var ok = await target.LoadLocalDataAsync(load.Statement, LoadDataBuilder.FileName, part, maxPacketBytes: 1000);
                    Assert.Equal((ulong)rows, ok.AffectedRows);
                    Assert.Equal(0, ok.Warnings);
                    parts++;
                    loaded += rows;
                }

                while (await reader.ReadAsync())
                {
                    var pending = load.PendingRows;
                    if (load.AddRow(reader.GetRow()) is { } part)
                    {
                        await SendAsync(part, pending);
                    }
                }

                var last = load.PendingRows;
                await SendAsync(load.Finish()!, last);
            }

            Assert.True(parts > 1, $"expected several parts, got {parts}");
            Assert.Equal(7, loaded);
            var expected = await DumpAsync(source, $"`{db}`.all_types");
            var actual = await DumpAsync(source, $"`{db}`.all_types_copy");
            Assert.Equal(7, expected.Count);
            Assert.Equal(expected, actual);
        }
        finally
        {
            await source.ExecuteAsync($"DROP DATABASE `{db}`");
        }
    }

    [Fact]
    public async Task A_request_for_a_file_the_command_did_not_offer_sends_nothing_and_the_connection_stays_usable()
    {
        var db = TestServer.UniqueName("loaddata");
        await using var c = await MySqlConnection.OpenAsync(TestServer.Dba() with { AllowLocalInfile = true });
        await c.ExecuteAsync($"CREATE DATABASE `{db}`");
        try
        {
            await c.ExecuteAsync($"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v VARCHAR(10))");
            var e = await Assert.ThrowsAsync<MySqlException>(() => c.LoadLocalDataAsync(
                System.Text.Encoding.UTF8.GetBytes($"LOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE `{db}`.t"), LoadDataBuilder.FileName, "1\tx\n"u8.ToArray()));
            Assert.Contains("'/etc/passwd'", e.Message, StringComparison.Ordinal);
            Assert.Contains(LoadDataBuilder.FileName, e.Message, StringComparison.Ordinal);
            Assert.Equal("0", await c.QueryScalarAsync($"SELECT COUNT(*) FROM `{db}`.t"));
        }
        finally
        {
            await c.ExecuteAsync($"DROP DATABASE `{db}`");
        }
    }

    [Fact]
    public async Task Without_AllowLocalInfile_the_client_refuses_and_a_plain_statement_is_refused_by_the_server()
    {
        await using var c = await TestServer.OpenDbaAsync();
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => c.LoadLocalDataAsync("LOAD DATA LOCAL INFILE 'x' INTO TABLE t"u8.ToArray(), "x", "1\n"u8.ToArray()));
        Assert.Contains("AllowLocalInfile", e.Message, StringComparison.Ordinal);
        // The capability is not advertised, so the server never asks this connection for a file.
        var refused = await Assert.ThrowsAsync<MySqlException>(() => c.ExecuteAsync("LOAD DATA LOCAL INFILE '/etc/hostname' INTO TABLE mysql.user"));
        Assert.Equal(4166, refused.ErrorNumber); // ER_LOAD_INFILE_CAPABILITY_DISABLED
        Assert.Contains("local infile", refused.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("1", await c.QueryScalarAsync("SELECT 1"));
    }

    private static async Task<List<string>> DumpAsync(MySqlConnection c, string table)
    {
        var rows = new List<string>();
        await using var reader = await c.QueryAsync("SELECT " + AllTypesTable.Columns + ", hidden_col FROM " + table + " ORDER BY id");
        while (await reader.ReadAsync())
        {
            rows.Add(string.Join("|", reader.GetRow().Select(v => v.IsNull ? "NULL" : Convert.ToHexString(v.Span))));
        }

        return rows;
    }
}
