using System.Globalization;
using System.Text.RegularExpressions;
using Durable.MySql;
using Durable.Testing;
using Durable.Topology;
using Xunit.Abstractions;

namespace Durable.Gateway.Tests;

/// <summary>
/// sysbench oltp_read_write (prepare, run, cleanup) through the gateway, on a private keyspace registered on the
/// customer primary with a database of its own (sysbench names its tables sbtest1..N), then the same run directly on
/// the primary. Asserts the run through the gateway has no errors; the throughput ratio is reported, not asserted
/// (a benchmark is not a timed test: bench/ keeps the numbers).
/// </summary>
[Trait("Category", "Integration")]
public sealed partial class SysbenchTests(ITestOutputHelper output)
{
    private const int Threads = 8;

    [Fact]
    public async Task Sysbench_oltp_read_write_runs_through_the_gateway_without_errors()
    {
        var keyspace = $"gwsb{Guid.NewGuid():N}"[..12];
        var database = "vt_" + keyspace;
        var primary = LocalCluster.Current.Primary("customer");
        var (dbaUser, dbaPassword) = LocalCluster.Current.Account("dba");
        var dba = new MySqlConnectionOptions { Host = primary.Host, Port = primary.Port, User = dbaUser, Password = dbaPassword, SslMode = SslMode.Disabled };
        await using (var c = await MySqlConnection.OpenAsync(dba))
        {
            await c.ExecuteAsync($"CREATE DATABASE {database}");
        }

        try
        {
            // The gateway logs in as the dba account here: sysbench's prepare creates tables, which the app account may not.
            await using var gateway = await GatewayUnderTest.StartAsync(s => s.QueryLog = false, backendRole: "dba", addToTopology: async admin =>
            {
                await admin.CreateKeyspaceAsync(keyspace);
                await admin.AddTabletAsync(new AddTabletRequest($"{LocalCluster.Current.Cell}-{9000 + Random.Shared.Next(900)}", keyspace, "0", "PRIMARY",
                    primary.Host, primary.Port, dbaUser, "secret:DURABLE_DBA_PASSWORD", database));
            });
            var through = Common(gateway.Port.ToString(CultureInfo.InvariantCulture), GatewayUnderTest.User, GatewayUnderTest.Password, keyspace);
            var prepare = await SysbenchAsync([.. through, "prepare"]);
            Assert.True(prepare.ExitCode == 0, prepare.StdOut + prepare.StdErr);
            var viaGateway = await SysbenchAsync([.. through, "--time=20", "run"]);
            Assert.True(viaGateway.ExitCode == 0, viaGateway.StdOut + viaGateway.StdErr);
            Assert.Matches(@"errors:\s+0 ", viaGateway.StdOut);
            var direct = await SysbenchAsync([.. Common(primary.Port.ToString(CultureInfo.InvariantCulture), dbaUser, dbaPassword, database), "--time=20", "run"]);
            Assert.True(direct.ExitCode == 0, direct.StdOut + direct.StdErr);
            var cleanup = await SysbenchAsync([.. through, "cleanup"]);
            Assert.True(cleanup.ExitCode == 0, cleanup.StdOut + cleanup.StdErr);

            var gatewayTps = Transactions(viaGateway.StdOut);
            var directTps = Transactions(direct.StdOut);
            output.WriteLine($"oltp_read_write {Threads} threads: through the gateway {gatewayTps:F1} tps, direct {directTps:F1} tps, ratio {gatewayTps / directTps:F2}");
            output.WriteLine(viaGateway.StdOut);
            output.WriteLine(direct.StdOut);
        }
        finally
        {
            await using var c = await MySqlConnection.OpenAsync(dba);
            await c.ExecuteAsync($"DROP DATABASE IF EXISTS {database}");
        }
    }

    private static string[] Common(string port, string user, string password, string database) =>
        ["oltp_read_write", "--db-driver=mysql", "--mysql-host=127.0.0.1", $"--mysql-port={port}", $"--mysql-user={user}", $"--mysql-password={password}",
         $"--mysql-db={database}", "--mysql-ssl=off", "--tables=2", "--table-size=10000", $"--threads={Threads}", "--report-interval=0"];

    private static Task<ProcessRunner.Result> SysbenchAsync(string[] args) => ProcessRunner.RunAsync("sysbench", args, timeout: TimeSpan.FromMinutes(3));

    private static double Transactions(string report)
    {
        var match = TransactionsLine().Match(report);
        return match.Success ? double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }

    [GeneratedRegex(@"transactions:\s+\d+\s+\(([\d.]+) per sec")]
    private static partial Regex TransactionsLine();
}
