using System.Text.Json;
using Durable.Cli;
using Durable.Cli.Infrastructure;
using Durable.Functions.Runner;
using Durable.Functions.Topology;
using Durable.Testing;
using Durable.Topology.Etcd;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Durable.Cli.Tests;

/// <summary>
/// The host of <see cref="TopologyCommandsTests"/>: a real Functions host on Kestrel with the topology functions, on a
/// topology root of its own in the local cluster's etcd and a private task hub. One for the class: a host start and
/// stop costs seconds on a real task hub, and the tests need only an empty root, which each gets (see the tests).
/// </summary>
public sealed class TopologyCommandsHost : IAsyncLifetime
{
    public const string Key = "cli-topo-key";
    private WebApplication _app = null!;

    public string TopoRoot { get; } = "/durable-test-topocli-" + Guid.NewGuid().ToString("N")[..12];

    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "durablectl-topo-" + Guid.NewGuid().ToString("N"));

    public string Server { get; private set; } = null!;

    public EtcdConnection Etcd { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Dir);
        await File.WriteAllTextAsync(Path.Combine(Dir, "host.json"), TestHubHost.HostJson());
        var builder = LocalRunner.CreateBuilder([
            $"--AzureWebJobsScriptRoot={Dir}", "--urls=http://127.0.0.1:0", $"--DURABLE_HOST_KEY={Key}",
            TestHubHost.StorageArgument, "--Logging:LogLevel:Default=Warning",
            $"--{Durable.Workflows.MoveTablesEnvironmentOptions.EtcdSetting}={LocalCluster.Current.EtcdEndpoints}", $"--{Durable.Workflows.MoveTablesEnvironmentOptions.RootSetting}={TopoRoot}"]);
        builder.Services.AddTopologyAdmin();
        _app = LocalRunner.Build(builder);
        await _app.StartAsync();
        Server = _app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        Etcd = new EtcdConnection(LocalCluster.Current.EtcdEndpoints);
    }

    /// <summary>Deletes everything under the topology root (the host reads etcd on every request and caches nothing).</summary>
    public Task ClearTopologyAsync() => Etcd.DeleteAsync(TopoRoot + "/", prefix: true);

    public async Task DisposeAsync()
    {
        await TestHubHost.StopAndDeleteHubAsync(_app);
        await ClearTopologyAsync();
        Etcd.Dispose();
        Directory.Delete(Dir, true);
    }
}

/// <summary>
/// durablectl's topology commands end to end: a real Functions host on Kestrel with the topology functions, talking to
/// the local cluster's real etcd under a topology root of its own, emptied before every test and deleted afterwards.
/// </summary>
[Trait("Category", "Integration")]
public sealed class TopologyCommandsTests(TopologyCommandsHost host) : IClassFixture<TopologyCommandsHost>, IAsyncLifetime
{
    private const string Key = TopologyCommandsHost.Key;
    private readonly string _topoRoot = host.TopoRoot;
    private readonly string _dir = host.Dir;
    private readonly string _server = host.Server;
    private readonly EtcdConnection _etcd = host.Etcd;

    // The tests of a class run one at a time: each starts from an empty root, as if it had a host of its own.
    public Task InitializeAsync() => host.ClearTopologyAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    private async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var env = new Dictionary<string, string?>
        {
            [DurableHostClient.KeyEnvironmentVariable] = Key,
            [DurableHostClient.ServerEnvironmentVariable] = _server,
        };
        var code = await DurableCtl.RunAsync(args, output, error, n => env.GetValueOrDefault(n));
        return (code, output.ToString(), error.ToString());
    }

    private async Task<string> Ok(params string[] args)
    {
        var (code, output, error) = await Run(args);
        Assert.True(code == ExitCodes.Ok, $"durablectl {string.Join(' ', args)} exited {code}: {error}");
        return output;
    }

    private async Task<string> Snapshot()
    {
        var (kvs, _) = await _etcd.GetPrefixAsync(_topoRoot + "/");
        return string.Join('\n', kvs.Select(kv => $"{kv.KeyString}@{kv.ModRevision}"));
    }

    private string WriteFile(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static IEnumerable<(string From, string To)> Rules(string json) =>
        JsonDocument.Parse(json).RootElement.GetProperty("rules").EnumerateArray()
            .SelectMany(r => r.GetProperty("to_tables").EnumerateArray().Select(t => (r.GetProperty("from_table").GetString()!, t.GetString()!)));

    [Fact]
    public async Task GetRoutingRules_after_ApplyRoutingRules_rules_file_prints_the_rules_of_the_file()
    {
        await Ok("CreateKeyspace", "commerce");
        await Ok("CreateKeyspace", "customer");
        const string rules = """
            {
              "rules": [
                { "from_table": "customer", "to_tables": ["commerce.customer"] },
                { "from_table": "customer.customer", "to_tables": ["commerce.customer"] },
                { "from_table": "customer@replica", "to_tables": ["commerce.customer"] },
                { "from_table": "corder", "to_tables": ["commerce.corder"] }
              ]
            }
            """;
        var file = WriteFile("rules.json", rules);

        var applied = await Ok("ApplyRoutingRules", "--rules-file", file);
        Assert.StartsWith("New RoutingRules object:", applied);

        var printed = await Ok("GetRoutingRules");
        Assert.Equal(Rules(rules), Rules(printed));
        // What Apply printed as stored is exactly what Get prints.
        Assert.Contains(printed.TrimEnd('\n'), applied);

        var json = await Ok("GetRoutingRules", "--format", "json");
        Assert.Equal(Rules(rules), Rules(json));
    }

    [Fact]
    public async Task Keyspace_shard_tablet_and_vschema_commands_round_trip()
    {
        Assert.Contains("Successfully created keyspace commerce (unsharded, sidecar database _vt; shards: 0)", await Ok("CreateKeyspace", "commerce"));
        Assert.Contains("sharded, sidecar database _side; shards: none yet", await Ok("CreateKeyspace", "customer", "--sharded", "--sidecar-db-name", "_side"));
        Assert.Contains("Successfully created shard customer/-80", await Ok("CreateShard", "customer/-80"));
        await Ok("CreateShard", "customer/80-");
        Assert.Equal(["commerce", "customer"], (await Ok("GetKeyspaces")).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var keyspace = await Ok("GetKeyspace", "customer");
        Assert.Matches(@"sharded\s*: true", keyspace);
        Assert.Matches(@"shards\s*: -80, 80-", keyspace);

        Assert.Contains("Successfully added tablet zone1-0000000300 (customer/-80 PRIMARY at 127.0.0.1:17300)", await Ok(
            "AddTablet", "--alias", "zone1-300", "--keyspace", "customer", "--shard", "-80", "--type", "PRIMARY",
            "--host", "127.0.0.1", "--port", "17300", "--user", "durable_filtered", "--credentials", "secret:DURABLE_FILTERED_PASSWORD"));
        await Ok("AddTablet", "--alias", "zone1-301", "--keyspace", "customer", "--shard", "-80", "--type", "REPLICA",
            "--host", "127.0.0.1", "--port", "17301", "--user", "durable_filtered", "--credentials", "env:PW", "--db-name", "vt_cust", "--server-id", "301");
        await Ok("AddTablet", "--alias", "zone1-100", "--keyspace", "commerce", "--shard", "0", "--type", "RDONLY",
            "--host", "localhost", "--port", "17100", "--user", "u", "--credentials", "secret:X");

        var table = (await Ok("GetTablets")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^Cell\s+Keyspace\s+Shard\s+TabletType\s+State\s+Alias\s+Hostname\s+Port\s+DbName\s+User\s+Credentials$", table[0]);
        Assert.Equal(4, table.Length);
        Assert.Matches(@"^zone1\s+commerce\s+0\s+RDONLY\s+SERVING\s+zone1-0000000100\s+localhost\s+17100\s+vt_commerce\s+u\s+secret:X$", table[1]);
        Assert.Matches(@"^zone1\s+customer\s+-80\s+PRIMARY\s+SERVING\s+zone1-0000000300\s+127\.0\.0\.1\s+17300\s+vt_customer\s+durable_filtered\s+secret:DURABLE_FILTERED_PASSWORD$", table[2]);
        Assert.Matches(@"^zone1\s+customer\s+-80\s+REPLICA\s+SERVING\s+zone1-0000000301\s+127\.0\.0\.1\s+17301\s+vt_cust\s+", table[3]);
        var filtered = (await Ok("GetTablets", "--keyspace", "customer", "--shard", "-80")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, filtered.Length);
        var json = JsonDocument.Parse(await Ok("GetTablets", "--keyspace", "commerce", "--format", "json")).RootElement;
        Assert.Equal("zone1-0000000100", json.EnumerateArray().Single().GetProperty("alias").GetString());

        // VSchema: a dry run prints but writes nothing; then from a file; then inline.
        const string vschema = """{"sharded":true,"vindexes":{"xx":{"type":"xxhash"}},"tables":{"corder":{"column_vindexes":[{"column":"customer_id","name":"xx"}]}}}""";
        var before = await Snapshot();
        var dry = await Ok("ApplyVSchema", "--vschema", vschema, "--dry-run", "customer");
        Assert.Contains("New VSchema object:", dry);
        Assert.Contains("Dry run", dry);
        Assert.Equal(before, await Snapshot());
        Assert.Equal("{}", (await Ok("GetVSchema", "customer")).Trim());

        await Ok("ApplyVSchema", "--vschema-file", WriteFile("vschema.json", vschema), "customer");
        var stored = JsonDocument.Parse(await Ok("GetVSchema", "customer")).RootElement;
        Assert.Equal("xxhash", stored.GetProperty("vindexes").GetProperty("xx").GetProperty("type").GetString());
        Assert.Equal("customer_id", stored.GetProperty("tables").GetProperty("corder").GetProperty("column_vindexes")[0].GetProperty("column").GetString());
        await Ok("ApplyVSchema", "commerce", "--vschema", """{"tables":{"product":{}}}""");
        Assert.True(JsonDocument.Parse(await Ok("GetVSchema", "commerce", "--format", "json")).RootElement.GetProperty("tables").TryGetProperty("product", out _));

        Assert.Contains("Successfully deleted tablets zone1-0000000301", await Ok("DeleteTablets", "zone1-301"));
        await Ok("DeleteTablets", "zone1-300", "--allow-primary");
        Assert.Equal(2, (await Ok("GetTablets")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains("Successfully deleted keyspace customer", await Ok("DeleteKeyspace", "customer", "--recursive"));
        await Ok("DeleteKeyspace", "commerce", "--recursive");
        Assert.Equal("", (await Ok("GetKeyspaces")).Trim());
    }

    [Fact]
    public async Task Mount_register_list_show_unregister()
    {
        // Mount register reads the mounted root, which must hold keyspaces: this test's own root, with one.
        await Ok("CreateKeyspace", "commerce");
        var server = new Uri(LocalCluster.Current.EtcdEndpoints.Split(',')[0]).Authority;
        var root = _topoRoot + "/global";
        Assert.Contains("Successfully registered mount ext1", await Ok("Mount", "register", "--name", "ext1", "--topo-type", "etcd2", "--topo-server", server, "--topo-root", root));
        await Ok("Mount", "register", "--name", "ext2", "--topo-type", "etcd2", "--topo-server", server, "--topo-root", root);
        Assert.Equal(["ext1", "ext2"], (await Ok("Mount", "list")).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var shown = await Ok("Mount", "show", "--name", "ext1");
        Assert.Matches(@"topo_type\s*: etcd2", shown);
        Assert.Matches(@"topo_server\s*: " + System.Text.RegularExpressions.Regex.Escape(server), shown);
        Assert.Matches(@"topo_root\s*: " + System.Text.RegularExpressions.Regex.Escape(root), shown);
        Assert.Equal(server, JsonDocument.Parse(await Ok("Mount", "show", "--name", "ext1", "--format", "json")).RootElement.GetProperty("topo_server").GetString());
        var (wrongCode, _, wrong) = await Run("Mount", "register", "--name", "ext3", "--topo-type", "etcd2", "--topo-server", server, "--topo-root", _topoRoot + "-nosuch/global");
        Assert.Equal(ExitCodes.Failed, wrongCode);
        Assert.Contains("holds no keyspaces", wrong);
        await Ok("Mount", "unregister", "--name", "ext1");
        Assert.Equal(["ext2"], (await Ok("Mount", "list")).Split('\n', StringSplitOptions.RemoveEmptyEntries));

        var (code, _, error) = await Run("Mount", "show", "--name", "ext1");
        Assert.Equal(ExitCodes.Failed, code);
        Assert.Contains("Mount 'ext1' is not registered", error);
    }

    [Fact]
    public async Task RegisterLocalCluster_registers_the_cluster_file_through_the_host()
    {
        var output = await Ok("RegisterLocalCluster", "--cluster-file", LocalCluster.Current.Path);
        Assert.Contains("registered tablet zone1-0000000100 commerce/0 PRIMARY", output);
        Assert.Contains($"Local cluster registered under {_topoRoot}.", output);
        var rows = (await Ok("GetTablets")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(LocalCluster.Current.Tablets.Count + 1, rows.Length);
        foreach (var tablet in LocalCluster.Current.Tablets)
        {
            Assert.Contains(rows, r => r.Contains(tablet.Alias, StringComparison.Ordinal) && r.Contains($" {tablet.Port} ", StringComparison.Ordinal));
        }

        Assert.Contains("customer_sharded", await Ok("GetKeyspaces"));
        Assert.Matches(@"shards\s*: -80, 80-", await Ok("GetKeyspace", "customer_sharded"));
        // Again: nothing new is created, tablets are updated in place.
        Assert.DoesNotContain("created", await Ok("RegisterLocalCluster", "--cluster-file", LocalCluster.Current.Path));
    }

    public static TheoryData<string[], string> LibraryErrors => new()
    {
        { ["ApplyVSchema", "customer", "--vschema", "{\"sharded\":"], "VSchema is not valid JSON" },
        { ["ApplyVSchema", "customer", "--vschema", """{"sharded":true,"vindexes":{"v":{"type":"lookup"}},"tables":{}}"""], "unknown type 'lookup'" },
        { ["ApplyVSchema", "customer", "--vschema", """{"sharded":true,"vindexes":{},"tables":{"t":{"column_vindexes":[{"column":"id","name":"nope"}]}}}"""], "uses vindex 'nope', which is not defined" },
        { ["ApplyRoutingRules", "--rules", "{\"rules\":[{\"from_table\":\"t\",\"to_tables\":[\"ghost.t\"]}]}"], "ghost" },
        { ["ApplyRoutingRules", "--rules", "not json"], "Routing rules are not valid JSON" },
        { ["CreateShard", "customer/40-c0"], "Overlap" },
        { ["CreateKeyspace", "customer"], "already exists" },
        { ["AddTablet", "--alias", "zone1-9", "--keyspace", "ghost", "--shard", "0", "--type", "PRIMARY", "--host", "h", "--port", "1", "--user", "u", "--credentials", "secret:X"], "unknown keyspace 'ghost'" },
        { ["AddTablet", "--alias", "zone1-9", "--keyspace", "customer", "--shard", "-80", "--type", "PRIMARY", "--host", "h", "--port", "1", "--user", "u", "--credentials", "plaintext"], "secret:" },
        { ["DeleteTablets", "zone1-9"], "does not exist" },
        { ["GetVSchema", "ghost"], "Keyspace 'ghost' does not exist" },
        { ["DeleteKeyspace", "customer"], "still has shards" },
    };

    [Theory]
    [MemberData(nameof(LibraryErrors))]
    public async Task Library_errors_exit_1_with_the_message_and_write_nothing(string[] args, string expected)
    {
        await Ok("CreateKeyspace", "customer", "--sharded");
        await Ok("CreateShard", "customer/-80");
        await Ok("CreateShard", "customer/80-");
        await Ok("ApplyRoutingRules", "--rules", """{"rules":[{"from_table":"a","to_tables":["customer.a"]}]}""");
        var before = await Snapshot();

        var (code, output, error) = await Run(args);

        Assert.Equal(ExitCodes.Failed, code);
        Assert.Contains("400", error);
        Assert.Contains(expected, error);
        Assert.Equal("", output);
        Assert.Equal(before, await Snapshot());
    }

    public static TheoryData<string[], string> UsageErrors => new()
    {
        { ["GetKeyspaces", "--bogus"], "'--bogus'" },
        { ["GetRoutingRules", "extra"], "'extra'" },
        { ["CreateKeyspace"], "missing KEYSPACE" },
        { ["CreateKeyspace", "a", "b"], "expected one KEYSPACE" },
        { ["CreateShard", "customer"], "'customer' is not KEYSPACE/SHARD" },
        { ["ApplyRoutingRules"], "exactly one of --rules JSON or --rules-file FILE" },
        { ["ApplyRoutingRules", "--rules", "{}", "--rules-file", "f.json"], "exactly one of --rules" },
        { ["ApplyRoutingRules", "--rules-file", "/nonexistent/rules.json"], "--rules-file '/nonexistent/rules.json' does not exist" },
        { ["ApplyVSchema", "--vschema", "{}"], "missing KEYSPACE" },
        { ["ApplyVSchema", "ks"], "exactly one of --vschema JSON or --vschema-file FILE" },
        { ["AddTablet", "--alias", "zone1-1", "--keyspace", "k", "--shard", "0", "--type", "PRIMARY", "--host", "h", "--port", "abc", "--user", "u", "--credentials", "secret:X"], "--port 'abc' is not a port" },
        { ["AddTablet", "--alias", "zone1-1", "--keyspace", "k", "--shard", "0", "--type", "PRIMARY", "--host", "h", "--port", "1", "--user", "u"], "needs --credentials" },
        { ["DeleteTablets"], "at least one tablet alias" },
        { ["GetTablets", "--shard", "-80"], "--shard needs --keyspace" },
        { ["Mount", "register", "--name", "m", "--topo-type", "etcd2", "--topo-server", "h:1"], "needs --topo-root" },
        { ["Mount", "show"], "needs --name" },
        { ["RegisterLocalCluster", "--cluster-file", "/nonexistent/cluster.json"], "'/nonexistent/cluster.json' does not exist" },
    };

    [Theory]
    [MemberData(nameof(UsageErrors))]
    public async Task Bad_flags_are_usage_errors_exit_2_and_write_nothing(string[] args, string expected)
    {
        var before = await Snapshot();
        var (code, _, error) = await Run(args);
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains(expected, error);
        Assert.Equal(before, await Snapshot());
    }
}
