using System.Text;
using Durable.Testing;

namespace Durable.MySql.Tests;

[Trait("Category", "Integration")]
public sealed class PreparedStatementTests
{
    [Fact]
    public async Task Binary_rows_render_like_text_rows_for_every_column_type()
    {
        var db = TestServer.UniqueName("prep");
        await using var c = await TestServer.OpenDbaAsync();
        await c.ExecuteAsync("SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION', time_zone = '+00:00'");
        await c.ExecuteAsync($"CREATE DATABASE {db}");
        try
        {
            await c.ExecuteAsync($"USE {db}");
            await c.ExecuteAsync(AllTypesTable.CreateTable);
            await c.ExecuteAsync("INSERT INTO all_types (" + AllTypesTable.Columns + ") VALUES " + string.Join(",", AllTypesTable.Rows));
            var text = await AllTypesBinlogTests.SelectAllAsync(c);

            await using var statement = await c.PrepareAsync("SELECT " + AllTypesTable.Columns + " FROM all_types WHERE id >= ? ORDER BY id");
            Assert.Equal(1, statement.ParameterCount);
            var binary = new List<MySqlValue[]>();
            await using (var reader = await statement.ExecuteReaderAsync([1]))
            {
                while (await reader.ReadAsync())
                {
                    binary.Add(reader.GetRow());
                }
            }

            var names = AllTypesTable.ColumnNames();
            var problems = new StringBuilder();
            Assert.Equal(text.Count, binary.Count);
            for (var r = 0; r < text.Count; r++)
            {
                for (var i = 0; i < names.Length; i++)
                {
                    if (text[r][i] != binary[r][i])
                    {
                        problems.AppendLine($"row {text[r][0]} column {names[i]}: text {text[r][i]} binary {binary[r][i]}");
                    }
                }
            }

            Assert.True(problems.Length == 0, problems.ToString());
        }
        finally
        {
            await c.ExecuteAsync($"DROP DATABASE IF EXISTS {db}");
        }
    }

    [Fact]
    public async Task Parameters_of_every_kind_round_trip()
    {
        await using var c = await TestServer.OpenDbaAsync();
        await using var statement = await c.PrepareAsync("SELECT ?, ?, ?, ?, ?, ?, ?, HEX(?), ?");
        await using var reader = await statement.ExecuteReaderAsync([null, -5L, ulong.MaxValue, 2.5, 1.25m, true, "it's 😀", new byte[] { 0, 0x27, 0xFF }, new DateTime(2024, 1, 2, 3, 4, 5)]);
        Assert.True(await reader.ReadAsync());
        Assert.True(reader.IsDBNull(0));
        Assert.Equal(-5, reader.GetInt64(1));
        Assert.Equal(ulong.MaxValue, reader.GetUInt64(2));
        Assert.Equal(2.5, reader.GetDouble(3));
        Assert.Equal(1.25m, reader.GetDecimal(4));
        Assert.Equal(1, reader.GetInt64(5));
        Assert.Equal("it's 😀", reader.GetString(6));
        Assert.Equal("0027FF", reader.GetString(7));
        Assert.StartsWith("2024-01-02 03:04:05", reader.GetString(8), StringComparison.Ordinal);
        Assert.False(await reader.ReadAsync());

        var ex = await Assert.ThrowsAsync<ArgumentException>(async () => await statement.ExecuteReaderAsync([1]));
        Assert.Contains("9 parameters", ex.Message, StringComparison.Ordinal);
        var bad = await Assert.ThrowsAsync<MySqlException>(() => c.PrepareAsync("SELEC nonsense"));
        Assert.Equal(1064, bad.ErrorNumber);
        Assert.Equal("1", await c.QueryScalarAsync("SELECT 1"));
    }
}
