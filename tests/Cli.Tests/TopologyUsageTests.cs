using System.Net;
using System.Net.Sockets;
using Durable.Cli;
using Durable.Cli.Infrastructure;

namespace Durable.Cli.Tests;

/// <summary>
/// Bad usage of the topology commands is caught by durablectl itself, before any request: these run against a port
/// where nothing listens, so a command that reached for the host would exit 5 (unreachable), not 2.
/// </summary>
public sealed class TopologyUsageTests
{
    private static async Task<(int Code, string Err)> Run(params string[] args)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var error = new StringWriter();
        var code = await DurableCtl.RunAsync(args, TextWriter.Null, error,
            n => n == DurableHostClient.ServerEnvironmentVariable ? $"http://127.0.0.1:{port}" : null);
        return (code, error.ToString());
    }

    [Theory]
    [InlineData(new[] { "GetTablets", "--keyspace", "k", "--bogus", "1" }, "'--bogus'")]
    [InlineData(new[] { "GetVSchema" }, "missing KEYSPACE")]
    [InlineData(new[] { "DeleteKeyspace", "a", "b" }, "expected one KEYSPACE, got 'a' 'b'")]
    [InlineData(new[] { "CreateShard", "/0" }, "'/0' is not KEYSPACE/SHARD")]
    [InlineData(new[] { "ApplyVSchema", "ks", "--vschema", "{}", "--vschema-file", "v.json" }, "exactly one of --vschema JSON or --vschema-file FILE")]
    [InlineData(new[] { "AddTablet", "--alias", "zone1-1" }, "AddTablet needs --keyspace, --shard, --type, --host, --port, --user, --credentials;")]
    [InlineData(new[] { "AddTablet", "--alias", "z-1", "--keyspace", "k", "--shard", "0", "--type", "REPLICA", "--host", "h", "--port", "70000", "--user", "u", "--credentials", "env:P" }, "--port '70000' is not a port; valid: 1-65535")]
    [InlineData(new[] { "AddTablet", "--alias", "z-1", "--keyspace", "k", "--shard", "0", "--type", "REPLICA", "--host", "h", "--port", "1", "--user", "u", "--credentials", "env:P", "--server-id", "-5" }, "--server-id '-5' is not a server id")]
    [InlineData(new[] { "Mount", "unregister" }, "needs --name")]
    [InlineData(new[] { "RegisterLocalCluster" }, "needs --cluster-file")]
    public async Task Usage_errors_exit_2_without_contacting_the_host(string[] args, string expected)
    {
        var (code, error) = await Run(args);
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains(expected, error);
    }

    [Fact]
    public async Task A_valid_command_does_reach_for_the_host()
    {
        var (code, error) = await Run("GetKeyspaces");
        Assert.Equal(ExitCodes.HostUnreachable, code);
        Assert.Contains("cannot reach the Durable host", error);
    }
}
