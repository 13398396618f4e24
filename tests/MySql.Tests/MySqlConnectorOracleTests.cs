using Durable.MySql.Tests.Oracle;
using Xunit.Abstractions;

namespace Durable.MySql.Tests;

/// <summary>
/// MySqlConnector as an independent reader: every oracle table (every column type the product moves, with its edge
/// values) is read through the own client and through MySqlConnector, over the text protocol and over prepared
/// statements, and the values must agree; character and binary values also byte for byte with the server's HEX().
/// A mismatch names the table, protocol, row id, column and both values.
/// </summary>
[Trait("Category", "Integration")]
public sealed class MySqlConnectorOracleTests(OracleDatabase database, ITestOutputHelper output) : IClassFixture<OracleDatabase>
{
    public static TheoryData<string, OracleProtocol> Reads()
    {
        var data = new TheoryData<string, OracleProtocol>();
        foreach (var table in OracleTables.All)
        {
            data.Add(table.Name, OracleProtocol.Text);
            data.Add(table.Name, OracleProtocol.Prepared);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Reads))]
    public async Task The_own_client_reads_what_MySqlConnector_reads(string tableName, OracleProtocol protocol)
    {
        var table = OracleTables.Named(tableName);
        await using var own = await MySqlConnection.OpenAsync(database.Options);
        await own.ExecuteAsync("SET SESSION time_zone = '+00:00'");
        var ownRows = await OwnReader.ReadAsync(own, table, protocol);

        await using var connector = await ConnectorReader.OpenAsync(database.Options);
        var oracleRows = await ConnectorReader.ReadAsync(connector, table, protocol);

        Assert.NotEmpty(ownRows);
        var problems = OracleComparison.Compare(table, protocol, ownRows, oracleRows);
        foreach (var problem in problems)
        {
            output.WriteLine(problem);
        }

        Assert.True(problems.Count == 0, $"{problems.Count} differences:\n" + string.Join("\n", problems));
    }
}
