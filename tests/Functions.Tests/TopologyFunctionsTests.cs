using System.Net;
using System.Text;
using System.Text.Json;
using Durable.Functions.Tests.Support;
using Durable.Functions.Topology;
using Durable.Testing;
using Durable.Topology.Etcd;

namespace Durable.Functions.Tests;

/// <summary>
/// The host of <see cref="TopologyFunctionsTests"/>: the topology functions on an in-process host with a topology root
/// of its own in the local cluster's etcd. One for the class: a host start and stop costs seconds on a real task hub,
/// and the tests need only an empty root, which each gets.
/// </summary>
public sealed class TopologyFunctionsHost : IAsyncLifetime
{
    public const string Key = "topo-host-key";

    public string Root { get; } = "/durable-test-topofn-" + Guid.NewGuid().ToString("N")[..12];

    public TestHost Host { get; private set; } = null!;

    public EtcdConnection Etcd { get; } = new(LocalCluster.Current.EtcdEndpoints);

    public async Task InitializeAsync() => Host = await TestHost.StartAsync(s => s.AddTopologyAdmin(), new Dictionary<string, string>
    {
        ["DURABLE_HOST_KEY"] = Key,
        [Durable.Workflows.MoveTablesEnvironmentOptions.EtcdSetting] = LocalCluster.Current.EtcdEndpoints,
        [Durable.Workflows.MoveTablesEnvironmentOptions.RootSetting] = Root,
    });

    /// <summary>Deletes everything under the root (the host reads etcd on every request and caches nothing).</summary>
    public Task ClearTopologyAsync() => Etcd.DeleteAsync(Root + "/", prefix: true);

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        await ClearTopologyAsync();
        Etcd.Dispose();
    }
}

/// <summary>
/// The topology functions on an in-process host against the local cluster's real etcd, under a topology root of the
/// class's own, emptied before each test and deleted afterwards, so tests never see each other's keyspaces or the
/// cluster's registered ones.
/// </summary>
[Trait("Category", "Integration")]
public sealed class TopologyFunctionsTests(TopologyFunctionsHost fixture) : IClassFixture<TopologyFunctionsHost>, IAsyncLifetime
{
    private const string Key = TopologyFunctionsHost.Key;
    private readonly string _root = fixture.Root;
    private readonly TestHost _host = fixture.Host;
    private readonly EtcdConnection _etcd = fixture.Etcd;

    // The tests of a class run one at a time: each starts from an empty root, as if it had a host of its own.
    public Task InitializeAsync() => fixture.ClearTopologyAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    private async Task<(HttpStatusCode Status, string Body)> Send(HttpMethod method, string path, string? body = null, string? key = Key)
    {
        using var request = new HttpRequestMessage(method, "/api/topology/" + path);
        if (key is not null)
        {
            request.Headers.Add("x-functions-key", key);
        }

        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        using var response = await _host.Client.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private async Task<JsonElement> Ok(HttpMethod method, string path, string? body = null, HttpStatusCode expected = HttpStatusCode.OK)
    {
        var (status, text) = await Send(method, path, body);
        Assert.True(status == expected, $"{method} {path}: expected {expected}, got {(int)status} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private async Task<string> BadRequest(HttpMethod method, string path, string? body = null)
    {
        var (status, text) = await Send(method, path, body);
        Assert.True(status == HttpStatusCode.BadRequest, $"{method} {path}: expected 400, got {(int)status} {text}");
        var json = JsonDocument.Parse(text).RootElement;
        Assert.Equal("Bad Request", json.GetProperty("error").GetString());
        return json.GetProperty("message").GetString()!;
    }

    /// <summary>Every key under this test's root with its mod revision: equal snapshots mean nothing was written.</summary>
    private async Task<string> Snapshot()
    {
        var (kvs, _) = await _etcd.GetPrefixAsync(_root + "/");
        return string.Join('\n', kvs.Select(kv => $"{kv.KeyString}@{kv.ModRevision}"));
    }

    private const string ShardedVSchema = """
        {"sharded":true,"vindexes":{"hash":{"type":"hash"}},"tables":{"customer":{"column_vindexes":[{"column":"customer_id","name":"hash"}]}}}
        """;

    [Fact]
    public async Task Keyspaces_shards_and_tablets_round_trip()
    {
        var created = await Ok(HttpMethod.Post, "keyspaces", """{"name":"commerce"}""", HttpStatusCode.Created);
        Assert.False(created.GetProperty("sharded").GetBoolean());
        Assert.Equal("_vt", created.GetProperty("sidecar_db_name").GetString());
        Assert.Equal(["0"], created.GetProperty("shards").EnumerateArray().Select(s => s.GetString()));

        await Ok(HttpMethod.Post, "keyspaces", """{"name":"customer","sharded":true,"sidecar_db_name":"_vt_side"}""", HttpStatusCode.Created);
        await Ok(HttpMethod.Post, "keyspaces/customer/shards/-80", null, HttpStatusCode.Created);
        var shard = await Ok(HttpMethod.Post, "keyspaces/customer/shards/80-", null, HttpStatusCode.Created);
        Assert.Equal("80-", shard.GetProperty("name").GetString());

        var keyspaces = await Ok(HttpMethod.Get, "keyspaces");
        Assert.Equal(["commerce", "customer"], keyspaces.EnumerateArray().Select(k => k.GetProperty("name").GetString()).Order());
        var customer = await Ok(HttpMethod.Get, "keyspaces/customer");
        Assert.True(customer.GetProperty("sharded").GetBoolean());
        Assert.Equal("_vt_side", customer.GetProperty("sidecar_db_name").GetString());
        Assert.Equal(["-80", "80-"], customer.GetProperty("shards").EnumerateArray().Select(s => s.GetString()).Order());

        var tablet = await Ok(HttpMethod.Post, "tablets",
            """{"alias":"zone1-300","keyspace":"customer","shard":"-80","type":"PRIMARY","host":"127.0.0.1","port":17300,"user":"durable_filtered","password_ref":"secret:DURABLE_FILTERED_PASSWORD"}""",
            HttpStatusCode.Created);
        Assert.Equal("zone1-0000000300", tablet.GetProperty("alias").GetString());
        Assert.Equal("SERVING", tablet.GetProperty("state").GetString());
        Assert.Equal("vt_customer", tablet.GetProperty("db_name").GetString());
        await Ok(HttpMethod.Post, "tablets",
            """{"alias":"zone1-301","keyspace":"customer","shard":"-80","type":"replica","host":"127.0.0.1","port":17301,"user":"durable_filtered","password_ref":"env:PW","db_name":"vt_c","server_id":301}""",
            HttpStatusCode.Created);
        await Ok(HttpMethod.Post, "tablets",
            """{"alias":"zone1-100","keyspace":"commerce","shard":"0","type":"RDONLY","host":"127.0.0.1","port":17100,"user":"u","password_ref":"secret:X"}""",
            HttpStatusCode.Created);

        var all = await Ok(HttpMethod.Get, "tablets");
        Assert.Equal(["zone1-0000000100", "zone1-0000000300", "zone1-0000000301"], all.EnumerateArray().Select(t => t.GetProperty("alias").GetString()));
        var inShard = await Ok(HttpMethod.Get, "tablets?keyspace=customer&shard=-80");
        Assert.Equal(2, inShard.GetArrayLength());
        var replica = inShard.EnumerateArray().Single(t => t.GetProperty("alias").GetString() == "zone1-0000000301");
        Assert.Equal("REPLICA", replica.GetProperty("tablet_type").GetString());
        Assert.Equal("zone1", replica.GetProperty("cell").GetString());
        Assert.Equal("vt_c", replica.GetProperty("db_name").GetString());
        Assert.Equal(301, replica.GetProperty("server_id").GetInt64());
        Assert.Equal("env:PW", replica.GetProperty("password_ref").GetString());
        Assert.Equal(0, (await Ok(HttpMethod.Get, "tablets?keyspace=customer&shard=80-")).GetArrayLength());
        Assert.Equal(0, (await Ok(HttpMethod.Get, "tablets?cell=zone2")).GetArrayLength());

        // The PRIMARY is refused without allow_primary, and with it the other alias of the same request is kept too.
        var before = await Snapshot();
        var message = await BadRequest(HttpMethod.Delete, "tablets?alias=zone1-301&alias=zone1-300");
        Assert.Contains("zone1-0000000300 is the PRIMARY", message);
        Assert.Equal(before, await Snapshot());
        var deleted = await Ok(HttpMethod.Delete, "tablets?alias=zone1-301&alias=zone1-300&allow_primary=true");
        Assert.Equal(["zone1-0000000301", "zone1-0000000300"], deleted.GetProperty("deleted").EnumerateArray().Select(a => a.GetString()));
        Assert.Single((await Ok(HttpMethod.Get, "tablets")).EnumerateArray());

        // A keyspace with shards and tablets goes only with recursive.
        message = await BadRequest(HttpMethod.Delete, "keyspaces/commerce");
        Assert.Contains("still has shards", message);
        await Ok(HttpMethod.Delete, "keyspaces/commerce?recursive=true");
        await Ok(HttpMethod.Delete, "keyspaces/customer?recursive=true");
        Assert.Equal(0, (await Ok(HttpMethod.Get, "keyspaces")).GetArrayLength());
        Assert.Equal(0, (await Ok(HttpMethod.Get, "tablets")).GetArrayLength());
    }

    [Fact]
    public async Task VSchema_and_routing_rules_round_trip_and_dry_run_writes_nothing()
    {
        await Ok(HttpMethod.Post, "keyspaces", """{"name":"customer","sharded":true,"shards":["-80","80-"]}""", HttpStatusCode.Created);
        await Ok(HttpMethod.Post, "keyspaces", """{"name":"commerce"}""", HttpStatusCode.Created);
        var (status, text) = await Send(HttpMethod.Get, "keyspaces/customer/vschema");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("{}", text);

        var before = await Snapshot();
        var dry = await Ok(HttpMethod.Post, "keyspaces/customer/vschema?dry_run=true", ShardedVSchema);
        Assert.True(dry.GetProperty("dry_run").GetBoolean());
        Assert.False(dry.GetProperty("written").GetBoolean());
        Assert.Equal("hash", dry.GetProperty("vschema").GetProperty("vindexes").GetProperty("hash").GetProperty("type").GetString());
        Assert.Equal(before, await Snapshot());

        var applied = await Ok(HttpMethod.Post, "keyspaces/customer/vschema", ShardedVSchema);
        Assert.True(applied.GetProperty("written").GetBoolean());
        Assert.True(applied.GetProperty("revision").GetInt64() > 0);
        (status, text) = await Send(HttpMethod.Get, "keyspaces/customer/vschema");
        Assert.Equal(HttpStatusCode.OK, status);
        var stored = JsonDocument.Parse(text).RootElement;
        Assert.True(stored.GetProperty("sharded").GetBoolean());
        Assert.Equal("customer_id", stored.GetProperty("tables").GetProperty("customer").GetProperty("column_vindexes")[0].GetProperty("column").GetString());

        const string rules = """{"rules":[{"from_table":"customer","to_tables":["commerce.customer"]},{"from_table":"customer.customer@replica","to_tables":["commerce.customer"]}]}""";
        before = await Snapshot();
        var dryRules = await Ok(HttpMethod.Post, "routingrules?dry_run=true", rules);
        Assert.Equal(2, dryRules.GetProperty("rules").GetProperty("rules").GetArrayLength());
        Assert.Equal(before, await Snapshot());
        await Ok(HttpMethod.Post, "routingrules", rules);
        (status, text) = await Send(HttpMethod.Get, "routingrules");
        Assert.Equal(HttpStatusCode.OK, status);
        var got = JsonDocument.Parse(text).RootElement.GetProperty("rules");
        Assert.Equal(["customer", "customer.customer@replica"], got.EnumerateArray().Select(r => r.GetProperty("from_table").GetString()));
        Assert.All(got.EnumerateArray(), r => Assert.Equal("commerce.customer", r.GetProperty("to_tables")[0].GetString()));
    }

    [Fact]
    public async Task Mounts_round_trip()
    {
        // The mounted topology is a real one: this test's own root, which holds a keyspace (Mount register reads it).
        await Ok(HttpMethod.Post, "keyspaces", """{"name":"commerce"}""", HttpStatusCode.Created);
        var server = new Uri(LocalCluster.Current.EtcdEndpoints.Split(',')[0]).Authority;
        var mount = JsonSerializer.Serialize(new { name = "ext1", topo_type = "etcd2", topo_server = server, topo_root = _root + "/global" });
        Assert.Equal(0, (await Ok(HttpMethod.Get, "mounts")).GetArrayLength());
        var registered = await Ok(HttpMethod.Post, "mounts", mount, HttpStatusCode.Created);
        Assert.Equal("ext1", registered.GetProperty("name").GetString());
        Assert.Equal(["ext1"], (await Ok(HttpMethod.Get, "mounts")).EnumerateArray().Select(m => m.GetString()));
        var shown = await Ok(HttpMethod.Get, "mounts/ext1");
        Assert.Equal("etcd2", shown.GetProperty("topo_type").GetString());
        Assert.Equal(server, shown.GetProperty("topo_server").GetString());
        Assert.Equal(_root + "/global", shown.GetProperty("topo_root").GetString());

        Assert.Contains("already registered", await BadRequest(HttpMethod.Post, "mounts",
            JsonSerializer.Serialize(new { name = "ext1", topo_type = "etcd2", topo_server = server, topo_root = _root + "/global" })));
        Assert.Equal(server, (await Ok(HttpMethod.Get, "mounts/ext1")).GetProperty("topo_server").GetString());

        await Ok(HttpMethod.Delete, "mounts/ext1");
        Assert.Equal(0, (await Ok(HttpMethod.Get, "mounts")).GetArrayLength());
        Assert.Contains("'ext1' is not registered", await BadRequest(HttpMethod.Get, "mounts/ext1"));
        Assert.Contains("'ext1' is not registered", await BadRequest(HttpMethod.Delete, "mounts/ext1"));
    }

    [Fact]
    public async Task Mount_register_refuses_a_topology_root_without_keyspaces_naming_the_root_and_what_it_found()
    {
        await Ok(HttpMethod.Post, "keyspaces", """{"name":"commerce"}""", HttpStatusCode.Created);
        var server = new Uri(LocalCluster.Current.EtcdEndpoints.Split(',')[0]).Authority;
        var before = await Snapshot();
        // A root nothing lives under, and a root one level off (the keyspaces are under ROOT/global, not ROOT/global/keyspaces).
        var wrong = "/durable-test-nosuch-" + Guid.NewGuid().ToString("N")[..8] + "/global";
        var message = await BadRequest(HttpMethod.Post, "mounts", JsonSerializer.Serialize(new { name = "ext1", topo_type = "etcd2", topo_server = server, topo_root = wrong }));
        Assert.Contains(wrong, message);
        Assert.Contains("no keyspaces", message);
        message = await BadRequest(HttpMethod.Post, "mounts", JsonSerializer.Serialize(new { name = "ext1", topo_type = "etcd2", topo_server = server, topo_root = _root + "/global/keyspaces" }));
        Assert.Contains(_root + "/global/keyspaces", message);
        Assert.Contains("commerce", message);
        Assert.Equal(before, await Snapshot());
        Assert.Equal(0, (await Ok(HttpMethod.Get, "mounts")).GetArrayLength());
    }

    public static TheoryData<string, string, string, string> BadRequests => new()
    {
        // method, path, body, what the message must name
        { "POST", "keyspaces/customer/vschema", "{\"sharded\":true,", "VSchema is not valid JSON" },
        { "POST", "keyspaces/customer/vschema", """{"sharded":true,"vindexes":{"v":{"type":"lookup_unique"}},"tables":{"t":{"column_vindexes":[{"column":"id","name":"v"}]}}}""", "unknown type 'lookup_unique'" },
        { "POST", "keyspaces/customer/vschema", """{"sharded":true,"vindexes":{"hash":{"type":"hash"}},"tables":{"t":{"column_vindexes":[{"column":"id","name":"missing"}]}}}""", "uses vindex 'missing', which is not defined" },
        { "POST", "keyspaces/customer/vschema", """{"sharded":false,"tables":{"t":{}}}""", "keyspace 'customer' is sharded" },
        { "POST", "keyspaces/nosuch/vschema", """{"tables":{}}""", "Keyspace 'nosuch' does not exist" },
        { "POST", "keyspaces", """{"name":"overlap","sharded":true,"shards":["-80","40-"]}""", "Overlap" },
        { "POST", "keyspaces", """{"name":"typo","sharded":true,"shard":["-80","80-"]}""", "unknown field 'shard'" },
        { "POST", "mounts", """{"name":"ext1","topo_type":"etcd2","topo_server":"localhost:2379","topo_rot":"/vitess/global"}""", "unknown field 'topo_rot'" },
        { "POST", "keyspaces", """{"name":"gap","sharded":true,"shards":["-40","80-"]}""", "Gap" },
        { "POST", "keyspaces", """{"name":"customer"}""", "Keyspace 'customer' already exists" },
        { "POST", "keyspaces", """{"name":"bad-name"}""", "Invalid keyspace name 'bad-name'" },
        { "POST", "keyspaces", """{"name":"k","shardd":["0"]}""", "shardd" },
        { "POST", "keyspaces", "", "CreateKeyspace needs a request body" },
        { "POST", "keyspaces/customer/shards/-c0", "", "Overlap" },
        { "POST", "keyspaces/customer/shards/xyz", "", "xyz" },
        { "POST", "tablets", """{"alias":"zone1-900","keyspace":"nosuch","shard":"0","type":"PRIMARY","host":"h","port":1,"user":"u","password_ref":"secret:X"}""", "unknown keyspace 'nosuch'" },
        { "POST", "tablets", """{"alias":"zone1-900","keyspace":"customer","shard":"0","type":"PRIMARY","host":"h","port":1,"user":"u","password_ref":"secret:X"}""", "unknown shard '0'" },
        { "POST", "tablets", """{"alias":"zone1-900","keyspace":"customer","shard":"-80","type":"LEADER","host":"h","port":1,"user":"u","password_ref":"secret:X"}""", "LEADER" },
        { "POST", "tablets", """{"alias":"zone1-900","keyspace":"customer","shard":"-80","type":"PRIMARY","host":"h","port":1,"user":"u","password_ref":"hunter2"}""", "secret:" },
        { "POST", "tablets", """{"alias":"nodash","keyspace":"customer","shard":"-80","type":"PRIMARY","host":"h","port":1,"user":"u","password_ref":"secret:X"}""", "Invalid tablet alias 'nodash'" },
        { "POST", "tablets", """{"alias":"zone1-900","keyspace":"customer","shard":"-80","type":"PRIMARY","host":"h","user":"u","password_ref":"secret:X"}""", "'port'" },
        { "DELETE", "tablets?alias=zone1-999", "", "zone1-0000000999 does not exist" },
        { "DELETE", "tablets", "", "at least one alias" },
        { "GET", "tablets?shard=-80", "", "without a keyspace" },
        { "DELETE", "keyspaces/customer?recursive=maybe", "", "recursive='maybe' is not a boolean" },
        { "POST", "routingrules", "[1,2]", "Routing rules must be a JSON object" },
        { "POST", "routingrules", """{"rules":[{"from_table":"t","to_tables":["nosuch.t"]}]}""", "nosuch" },
        { "POST", "routingrules", """{"rules":[{"from_table":"t","to_tables":["customer.t"]},{"from_table":"t","to_tables":["customer.u"]}]}""", "'t'" },
        { "POST", "mounts", """{"name":"m","topo_type":"etcd2","topo_server":"h:1"}""", "topo_root" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Bad_input_is_a_400_naming_the_problem_and_writes_nothing(string method, string path, string body, string expected)
    {
        await Ok(HttpMethod.Post, "keyspaces", """{"name":"customer","sharded":true,"shards":["-80","80-"]}""", HttpStatusCode.Created);
        await Ok(HttpMethod.Post, "keyspaces/customer/vschema", ShardedVSchema);
        await Ok(HttpMethod.Post, "routingrules", """{"rules":[{"from_table":"x","to_tables":["customer.x"]}]}""");
        var before = await Snapshot();

        var message = await BadRequest(new HttpMethod(method), path, body.Length == 0 ? null : body);

        Assert.Contains(expected, message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(before, await Snapshot());
    }

    [Fact]
    public async Task Without_a_key_it_is_401_and_without_settings_503_naming_the_setting()
    {
        var (status, _) = await Send(HttpMethod.Get, "keyspaces", key: null);
        Assert.Equal(HttpStatusCode.Unauthorized, status);

        // Blank the setting explicitly: infra/test.sh exports the local cluster's DURABLE_ETCD_ENDPOINTS into the environment.
        await using var unconfigured = await TestHost.StartAsync(
            s => s.AddTopologyAdmin(),
            new Dictionary<string, string> { ["DURABLE_HOST_KEY"] = Key, [Durable.Workflows.MoveTablesEnvironmentOptions.EtcdSetting] = "" });
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/topology/keyspaces");
        request.Headers.Add("x-functions-key", Key);
        using var response = await unconfigured.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains(Durable.Workflows.MoveTablesEnvironmentOptions.EtcdSetting, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Unreachable_etcd_is_a_503_naming_the_endpoint()
    {
        var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        await using var host = await TestHost.StartAsync(s => s.AddTopologyAdmin(), new Dictionary<string, string>
        {
            ["DURABLE_HOST_KEY"] = Key,
            [Durable.Workflows.MoveTablesEnvironmentOptions.EtcdSetting] = $"http://127.0.0.1:{port}",
        });
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/topology/keyspaces");
        request.Headers.Add("x-functions-key", Key);
        using var response = await host.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains($"127.0.0.1:{port}", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task RegisterLocalCluster_registers_every_tablet_of_the_cluster_file_and_can_run_again()
    {
        var file = await File.ReadAllTextAsync(LocalCluster.Current.Path);
        var first = await Ok(HttpMethod.Post, "localcluster", file);
        Assert.Equal(_root, first.GetProperty("root").GetString());
        Assert.Contains(first.GetProperty("done").EnumerateArray(), l => l.GetString()!.StartsWith("created keyspace customer_sharded (sharded)", StringComparison.Ordinal));

        var tablets = await Ok(HttpMethod.Get, "tablets");
        Assert.Equal(LocalCluster.Current.Tablets.Count, tablets.GetArrayLength());
        foreach (var expected in LocalCluster.Current.Tablets)
        {
            var t = tablets.EnumerateArray().Single(x => x.GetProperty("alias").GetString() == expected.Alias);
            Assert.Equal(expected.Keyspace, t.GetProperty("keyspace").GetString());
            Assert.Equal(expected.Shard, t.GetProperty("shard").GetString());
            Assert.Equal(expected.Port, t.GetProperty("port").GetInt32());
            Assert.Equal("SERVING", t.GetProperty("state").GetString());
            Assert.Equal("secret:DURABLE_FILTERED_PASSWORD", t.GetProperty("password_ref").GetString());
        }

        var second = await Ok(HttpMethod.Post, "localcluster", file);
        Assert.DoesNotContain(second.GetProperty("done").EnumerateArray(), l => l.GetString()!.StartsWith("created", StringComparison.Ordinal));
        Assert.Equal(LocalCluster.Current.Tablets.Count, (await Ok(HttpMethod.Get, "tablets")).GetArrayLength());

        var before = await Snapshot();
        Assert.Contains("not valid JSON", await BadRequest(HttpMethod.Post, "localcluster", "{\"cell\":"));
        Assert.Equal(before, await Snapshot());
    }
}
