using Durable.Cli;
using Durable.Cli.Infrastructure;

namespace Durable.Cli.Tests;

/// <summary>The rewriting rules of <see cref="VtctlArguments"/>, token by token (no host).</summary>
public sealed class VtctlArgumentsTests
{
    private static string Normalize(params string[] args) =>
        string.Join(' ', VtctlArguments.Normalize(args, DurableCtl.BuildRoot(new CliContext(TextWriter.Null, TextWriter.Null, _ => null))));

    [Theory]
    [InlineData("MoveTables -- --source commerce --tables t1,t2 Create customer.wf",
        "MoveTables create --source-keyspace commerce --tables t1,t2 --target-keyspace customer --workflow wf")]
    [InlineData("MoveTables -- --tablet_types=rdonly --dry_run SwitchTraffic customer.wf",
        "MoveTables switchtraffic --tablet-types=rdonly --dry-run --target-keyspace customer --workflow wf")]
    [InlineData("movetables --target-keyspace customer --workflow wf REVERSETRAFFIC --timeout 1m30s",
        "MoveTables reversetraffic --target-keyspace customer --workflow wf --timeout 90")]
    [InlineData("MoveTables -- Progress customer.wf", "MoveTables status --target-keyspace customer --workflow wf")]
    [InlineData("Workflow -- customer listall", "Workflow --keyspace customer list")]
    [InlineData("Workflow -- customer.wf delete", "Workflow --keyspace customer delete --workflow wf")]
    [InlineData("Workflow --keyspace commerce show --workflow wf_reverse", "Workflow show --keyspace commerce --workflow wf_reverse")]
    [InlineData("-server localhost:15999 ApplyRoutingRules -rules={}", "--server localhost:15999 ApplyRoutingRules --rules={}")]
    [InlineData("VDiff --format=json --target-keyspace customer --workflow wf Show last --verbose",
        "VDiff show --format=json --target-keyspace customer --workflow wf last --verbose")]
    [InlineData("MoveTables --workflow wf --target-keyspace customer switchtraffic --max-replication-lag-allowed=500ms --wait-seconds 1m",
        "MoveTables switchtraffic --workflow wf --target-keyspace customer --max-replication-lag-allowed=0.5 --wait-seconds 60")]
    [InlineData("GetInstance some.id", "GetInstance some.id")]
    public void Seed_forms_become_durablectl_forms(string seed, string expected) =>
        Assert.Equal(expected, Normalize(seed.Split(' ')));

    [Theory]
    [InlineData("vtctld.host:15999", "http://vtctld.host:15999")]
    [InlineData("http://localhost:7071", "http://localhost:7071")]
    [InlineData("https://durable.example", "https://durable.example")]
    public void Server_host_and_port_is_http(string server, string expected) => Assert.Equal(expected, VtctlArguments.ServerUrl(server));

    [Fact]
    public void A_bad_duration_names_the_flag_the_value_and_an_example()
    {
        var e = Assert.Throws<UsageException>(() => Normalize("MoveTables", "--workflow", "wf", "--target-keyspace", "customer", "switchtraffic", "--timeout", "soon"));
        Assert.Equal("--timeout 'soon' is not a duration: give a Go duration such as 30s, 1m30s, 500ms or 1h, or plain seconds (30).", e.Message);
    }
}
