using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Durable.Core.KeyRanges;
using Durable.Core.Vindexes;
using Durable.MySql;
using Durable.MySql.Protocol;
using MySqlConnector;
using MySqlConnection = MySqlConnector.MySqlConnection;
using MySqlException = MySqlConnector.MySqlException;

namespace Durable.Gateway.Tests;

/// <summary>
/// Prepared statements (COM_STMT_PREPARE/EXECUTE) on sharded keyspace customer_sharded through the gateway: values
/// bound in the binary protocol place rows and pin shards as literals do, and the rows come back in the binary protocol
/// typed exactly as the same prepared statement answers on an unsharded copy in commerce.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ShardedPreparedTests
{
    private const string Columns = "id BIGINT PRIMARY KEY, name VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci, n INT, "
                                   + "u BIGINT UNSIGNED, d DECIMAL(12,3), dt DATETIME(6), day DATE, t TIME(3), dbl DOUBLE, b VARBINARY(16), session VARCHAR(8), f FLOAT";

    private static readonly string[] Names = ["a", "A", "á", "b", "B", "é", "e", "E", "c", "ç", "z", "Z", "it's", "back\\slash"];

    private static string ShardOf(long id) => KeyRange.ParseShard("-80").Contains(HashVindex.Hash((ulong)id)) ? "-80" : "80-";

    private static string VSchema(string table) =>
        "{\"sharded\": true, \"vindexes\": {\"hash\": {\"type\": \"hash\"}}, \"tables\": {\"" + table + "\": {\"column_vindexes\": [{\"column\": \"id\", \"name\": \"hash\"}]}}}";

    /// <summary>Every value of every row, read through the binary protocol's typed getters (bytes as hex).</summary>
    private static async Task<List<string>> PreparedRowsAsync(MySqlConnection c, string sql, params (string Name, object? Value)[] parameters)
    {
        await using var command = new MySqlCommand(sql, c);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        await command.PrepareAsync();
        var rows = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(string.Join("|", Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i)
                ? "NULL"
                : reader.GetValue(i) switch
                {
                    byte[] bytes => "0x" + Convert.ToHexString(bytes),
                    DateTime dt => dt.ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture),
                    double x => x.ToString("R", CultureInfo.InvariantCulture),
                    var v => reader.GetFieldType(i).Name + ":" + Convert.ToString(v, CultureInfo.InvariantCulture),
                })));
        }

        return rows;
    }

    private static async Task<int> PreparedExecAsync(MySqlConnection c, string sql, params (string Name, object? Value)[] parameters)
    {
        await using var command = new MySqlCommand(sql, c);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        await command.PrepareAsync();
        return await command.ExecuteNonQueryAsync();
    }

    private static (string, object?)[] RowValues(int i, string name) =>
    [
        ("@id", (long)(i + 1)), ("@name", name), ("@n", i * 7 % 5), ("@u", ulong.MaxValue - (ulong)i), ("@d", 1234.5m + i),
        ("@dt", new DateTime(2024, 2, 29, 13, 45, 7).AddTicks(i * 1234560L)), ("@day", new DateTime(2000 + i, 1, 31)),
        ("@t", new TimeSpan(0, 100 + i, 5, 6, 789)), ("@dbl", i == 3 ? null : (object)(0.1 + i / 3.0)),
        ("@b", new byte[] { 0, (byte)i, 0xFF, (byte)'\\' }), ("@session", "s" + i), ("@f", 1.5f + i),
    ];

    [Fact]
    public async Task Prepared_statements_place_pin_and_answer_in_the_binary_protocol_as_the_unsharded_copy_does()
    {
        var table = $"shp_{Guid.NewGuid():N}"[..20];
        await using var left = await DirectTablet.OpenAsync("customer_sharded", "-80");
        await using var right = await DirectTablet.OpenAsync("customer_sharded", "80-");
        await using var copy = await DirectTablet.OpenAsync("commerce", "0");
        foreach (var c in new[] { left, right, copy })
        {
            await DirectTablet.ExecAsync(c, $"CREATE TABLE {table} ({Columns})");
        }

        try
        {
            await using var gateway = await GatewayUnderTest.StartAsync(addToTopology: admin => admin.ApplyVSchemaAsync("customer_sharded", VSchema(table)));
            await using var client = new MySqlConnection(gateway.ConnectionString("customer_sharded", "IgnorePrepare=false;"));
            await client.OpenAsync();
            await using var copyPrepared = await DirectTablet.OpenAsync("commerce", "0", "IgnorePrepare=false;");

            // The rows, inserted with a prepared INSERT through the gateway and on the copy; SESSION is a column here.
            var insert = $"INSERT INTO {table} (id, name, n, u, d, dt, day, t, dbl, b, session, f) VALUES (@id, @name, @n, @u, @d, @dt, @day, @t, @dbl, @b, @session, @f)";
            for (var i = 0; i < Names.Length; i++)
            {
                Assert.Equal(1, await PreparedExecAsync(client, insert, RowValues(i, Names[i])));
                Assert.Equal(1, await PreparedExecAsync(copyPrepared, insert, RowValues(i, Names[i])));
            }

            // Each row is on the shard its id's keyspace id names, and only there.
            var onLeft = await PreparedRowsAsync(left, $"SELECT id FROM {table} ORDER BY id");
            var onRight = await PreparedRowsAsync(right, $"SELECT id FROM {table} ORDER BY id");
            Assert.Equal(Names.Length, onLeft.Count + onRight.Count);
            Assert.All(onLeft, id => Assert.Equal("-80", ShardOf(long.Parse(id.Split(':')[1], CultureInfo.InvariantCulture))));
            Assert.All(onRight, id => Assert.Equal("80-", ShardOf(long.Parse(id.Split(':')[1], CultureInfo.InvariantCulture))));

            // Scatter and pinned SELECTs, typed value by value, equal the copy's prepared answer.
            var all = "id, name, n, u, d, dt, day, t, dbl, b, session";
            foreach (var (sql, parameters) in new (string, (string, object?)[])[]
                     {
                         ($"SELECT {all} FROM {table} ORDER BY name, id", []),
                         ($"SELECT {all} FROM {table} WHERE n >= @n ORDER BY dt DESC LIMIT 3 OFFSET 1", [("@n", 2)]),
                         ($"SELECT {all} FROM {table} WHERE id = @id", [("@id", 5L)]),
                         ($"SELECT id, name FROM {table} WHERE id IN (@a, @b, @c) ORDER BY id", [("@a", 1L), ("@b", 2L), ("@c", 3L)]),
                         ($"SELECT COUNT(*), SUM(n), MIN(dt), MAX(d), MAX(name) FROM {table} WHERE name <> @x", [("@x", "zzz")]),
                         ($"SELECT n, COUNT(*), SUM(u) FROM {table} GROUP BY n ORDER BY n", []),
                         ($"SELECT id, session FROM {table} WHERE name = @name ORDER BY id", [("@name", "it's")]),
                     })
            {
                Assert.Equal(await PreparedRowsAsync(copyPrepared, sql, parameters), await PreparedRowsAsync(client, sql, parameters));
            }

            // A pinned prepared UPDATE and DELETE change their shard only.
            var leftId = long.Parse(onLeft[0].Split(':')[1], CultureInfo.InvariantCulture);
            Assert.Equal(1, await PreparedExecAsync(client, $"UPDATE {table} SET n = @n WHERE id = @id", ("@n", 500), ("@id", leftId)));
            Assert.Equal([$"Int32:500"], await PreparedRowsAsync(left, $"SELECT n FROM {table} WHERE id = {leftId}"));
            Assert.Equal(1, await PreparedExecAsync(client, $"DELETE FROM {table} WHERE id = @id", ("@id", leftId)));
            Assert.Empty(await PreparedRowsAsync(left, $"SELECT n FROM {table} WHERE id = {leftId}"));

            // A FLOAT result column cannot come back exactly from the shards' text: refused when prepared, named.
            var floats = await Assert.ThrowsAsync<MySqlException>(() => PreparedRowsAsync(client, $"SELECT id, f FROM {table} WHERE id = @id", ("@id", 2L)));
            Assert.Equal(1235, floats.Number);
            Assert.Contains("FLOAT column 'f'", floats.Message, StringComparison.Ordinal);
            Assert.Equal(["Int64:2|2.5"], await PreparedRowsAsync(client, $"SELECT id, CAST(f AS DOUBLE) AS f FROM {table} WHERE id = @id", ("@id", 2L)));
        }
        finally
        {
            foreach (var c in new[] { left, right, copy })
            {
                await DirectTablet.ExecAsync(c, $"DROP TABLE IF EXISTS {table}");
            }
        }
    }

    [Fact]
    public async Task Values_sent_as_long_data_reach_the_row_sharded_and_unsharded()
    {
        var table = $"shl_{Guid.NewGuid():N}"[..20];
        await using var left = await DirectTablet.OpenAsync("customer_sharded", "-80");
        await using var right = await DirectTablet.OpenAsync("customer_sharded", "80-");
        await using var copy = await DirectTablet.OpenAsync("commerce", "0");
        foreach (var c in new[] { left, right, copy })
        {
            await DirectTablet.ExecAsync(c, $"CREATE TABLE {table} (id BIGINT PRIMARY KEY, v MEDIUMBLOB, w VARCHAR(16))");
        }

        try
        {
            await using var gateway = await GatewayUnderTest.StartAsync(addToTopology: admin => admin.ApplyVSchemaAsync("customer_sharded", VSchema(table)));
            var blob = Enumerable.Range(0, 70_000).Select(i => (byte)(i * 31)).ToArray();
            foreach (var (keyspace, id, readers) in new[] { ("customer_sharded", 7L, new[] { left, right }), ("commerce", 8L, new[] { copy }) })
            {
                await using var connection = await Durable.MySql.MySqlConnection.OpenAsync(gateway.ClientOptions(keyspace));
                var answer = await LongDataInsertAsync(connection, $"INSERT INTO {table} (id, v, w) VALUES (?, ?, ?)", id, blob, "tail");
                Assert.True(answer[0] == 0x00, $"{keyspace}: {Encoding.UTF8.GetString(answer)}");

                var found = new List<string>();
                foreach (var reader in readers)
                {
                    await using var command = new MySqlCommand($"SELECT SHA2(v, 256), LENGTH(v), w FROM {table} WHERE id = {id}", reader);
                    await using var rows = await command.ExecuteReaderAsync();
                    while (await rows.ReadAsync())
                    {
                        found.Add($"{rows.GetString(0)}|{rows.GetInt64(1)}|{rows.GetString(2)}");
                    }
                }

                Assert.Equal([$"{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(blob))}|{blob.Length}|tail"], found);
            }
        }
        finally
        {
            foreach (var c in new[] { left, right, copy })
            {
                await DirectTablet.ExecAsync(c, $"DROP TABLE IF EXISTS {table}");
            }
        }
    }

    /// <summary>
    /// COM_STMT_PREPARE, the second parameter sent in two COM_STMT_SEND_LONG_DATA parts, then COM_STMT_EXECUTE (which
    /// leaves that parameter's value out), over the project's raw command API; returns the execute's answer packet.
    /// </summary>
    private static async Task<byte[]> LongDataInsertAsync(Durable.MySql.MySqlConnection c, string sql, long id, byte[] blob, string text)
    {
        var ct = CancellationToken.None;
        var w = new PayloadWriter();
        w.WriteByte(0x16);
        w.WriteString(sql);
        await c.SendRawCommandAsync(w, ct);
        var ok = (await c.ReadRawPacketAsync(ct)).ToArray();
        Assert.True(ok[0] == 0x00, Encoding.UTF8.GetString(ok));
        var statement = BinaryPrimitives.ReadUInt32LittleEndian(ok.AsSpan(1));
        var columns = BinaryPrimitives.ReadUInt16LittleEndian(ok.AsSpan(5));
        var parameters = BinaryPrimitives.ReadUInt16LittleEndian(ok.AsSpan(7));
        Assert.Equal((0, 3), (columns, parameters));
        for (var i = 0; i < parameters + (c.UsesDeprecateEof() ? 0 : 1); i++)
        {
            await c.ReadRawPacketAsync(ct);
        }

        var half = blob.Length / 2;
        foreach (var part in new[] { blob[..half], blob[half..] })
        {
            w.Clear();
            w.WriteByte(0x18);
            w.WriteUInt32(statement);
            w.WriteUInt16(1);
            w.WriteBytes(part);
            await c.SendRawCommandAsync(w, ct);
        }

        w.Clear();
        w.WriteByte(0x17);
        w.WriteUInt32(statement);
        w.WriteByte(0);            // no cursor
        w.WriteUInt32(1);          // iteration count
        w.WriteByte(0);            // null bitmap (3 parameters)
        w.WriteByte(1);            // new parameters bound
        w.WriteBytes([8, 0, 252, 0, 253, 0]); // LONGLONG, BLOB, VAR_STRING
        w.WriteUInt64((ulong)id);  // the BLOB's value went as long data: only the first and third follow
        w.WriteLengthEncodedBytes(Encoding.UTF8.GetBytes(text));
        await c.SendRawCommandAsync(w, ct);
        return (await c.ReadRawPacketAsync(ct)).ToArray();
    }
}
