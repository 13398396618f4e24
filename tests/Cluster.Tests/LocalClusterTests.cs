using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Durable.Testing;

namespace Durable.Cluster.Tests;

/// <summary>Proves the local cluster that every other integration test stands on.</summary>
[Trait("Category", "Integration")]
public class LocalClusterTests
{
    private static readonly LocalCluster Cluster = LocalCluster.Current;

    public static TheoryData<int> TabletUids()
    {
        var data = new TheoryData<int>();
        foreach (var t in LocalCluster.Current.Tablets)
        {
            data.Add(t.Uid);
        }

        return data;
    }

    [Fact]
    public void ClusterHasTheSeedsTopology()
    {
        string Shape(TabletInfo t) => $"{t.Uid} {t.Keyspace}/{t.Shard} {t.Type}";
        Assert.Equal(
            new[]
            {
                "100 commerce/0 PRIMARY", "101 commerce/0 REPLICA", "102 commerce/0 RDONLY",
                "200 customer/0 PRIMARY", "201 customer/0 REPLICA", "202 customer/0 RDONLY",
                "300 customer_sharded/-80 PRIMARY", "301 customer_sharded/-80 REPLICA",
                "400 customer_sharded/80- PRIMARY", "401 customer_sharded/80- REPLICA",
            },
            Cluster.Tablets.Select(Shape).ToArray());
        Assert.All(Cluster.Tablets, t => Assert.Equal($"zone1-{t.Uid:D10}", t.Alias));
        Assert.All(Cluster.Tablets, t => Assert.Equal("127.0.0.1", t.Host));
    }

    [Theory]
    [MemberData(nameof(TabletUids))]
    public async Task EveryAccountReachesEveryTabletWithGeneratedCredentials(int uid)
    {
        var tablet = Cluster.Tablet(uid);
        foreach (var role in new[] { "dba", "app", "filtered" })
        {
            var row = await MariaDbCli.QueryAsync(tablet, role, "SELECT CURRENT_USER(), @@server_id, @@port;");
            var cols = row.Split('\t');
            Assert.Equal($"{Cluster.Account(role).User}@%", cols[0]);
            Assert.Equal(uid.ToString(), cols[1]);
            Assert.Equal(tablet.Port.ToString(), cols[2]);
        }
    }

    [Fact]
    public async Task AWrongPasswordIsRefused()
    {
        var tablet = Cluster.Primary("commerce");
        var result = await ProcessRunner.RunAsync(
            "mariadb",
            ["--no-defaults", "--protocol=tcp", "-h", tablet.Host, "-P", tablet.Port.ToString(), "-u", Cluster.Account("app").User, "--password=not-the-password", "-e", "SELECT 1"]);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("Access denied", result.StdErr);
    }

    [Theory]
    [MemberData(nameof(TabletUids))]
    public async Task BinlogSettingsAReplicationToolNeedsAreInForce(int uid)
    {
        var tablet = Cluster.Tablet(uid);
        var row = await MariaDbCli.QueryAsync(
            tablet,
            "dba",
            "SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@binlog_row_metadata, @@log_slave_updates, @@gtid_strict_mode, @@read_only, @@bind_address;");
        var expectedReadOnly = tablet.Type == "PRIMARY" ? "0" : "1";
        Assert.Equal($"1\tROW\tFULL\tFULL\t1\t1\t{expectedReadOnly}\t127.0.0.1", row);
    }

    [Fact]
    public async Task ServerIdsAreUnique()
    {
        var ids = new List<string>();
        foreach (var t in Cluster.Tablets)
        {
            ids.Add(await MariaDbCli.QueryAsync(t, "dba", "SELECT @@server_id;"));
        }

        Assert.Equal(ids.Count, ids.Distinct().Count());
    }

    [Fact]
    public async Task TheAppAccountCannotChangeSchemaOrReadTheMysqlDatabase()
    {
        var primary = Cluster.Primary("commerce");
        var ddl = await MariaDbCli.TryQueryAsync(primary, "app", "CREATE TABLE vt_commerce.app_may_not_create (id INT PRIMARY KEY);");
        Assert.NotEqual(0, ddl.ExitCode);
        Assert.Contains("CREATE command denied", ddl.StdErr);
        var users = await MariaDbCli.TryQueryAsync(primary, "app", "SELECT COUNT(*) FROM mysql.user;");
        Assert.NotEqual(0, users.ExitCode);
    }

    [Theory]
    [InlineData("commerce", "0")]
    [InlineData("customer", "0")]
    [InlineData("customer_sharded", "-80")]
    [InlineData("customer_sharded", "80-")]
    public async Task ReplicasReplicateByGtidAndCatchUpAWrite(string keyspace, string shard)
    {
        var primary = Cluster.Primary(keyspace, shard);
        var replicas = Cluster.Tablets.Where(t => t.Keyspace == keyspace && t.Shard == shard && t.Type != "PRIMARY").ToList();
        Assert.NotEmpty(replicas);

        var db = $"cluster_test_{Guid.NewGuid():N}"[..30];
        var marker = Guid.NewGuid().ToString("N");
        try
        {
            await MariaDbCli.QueryAsync(primary, "dba", $"CREATE DATABASE `{db}`; CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v VARCHAR(64)); INSERT INTO `{db}`.t VALUES (1, '{marker}');");
            var position = await MariaDbCli.QueryAsync(primary, "dba", "SELECT @@gtid_binlog_pos;");
            Assert.Matches(@"^\d+-" + primary.Uid + @"-\d+", position);

            foreach (var replica in replicas)
            {
                var status = await MariaDbCli.QueryAsync(replica, "dba", "SHOW SLAVE STATUS\\G", columnNames: true);
                Assert.Contains("Using_Gtid: Slave_Pos", status);
                Assert.Contains("Slave_IO_Running: Yes", status);
                Assert.Contains("Slave_SQL_Running: Yes", status);

                // MASTER_GTID_WAIT returns 0 once the replica has applied the primary's position, -1 on timeout.
                var waited = await MariaDbCli.QueryAsync(replica, "dba", $"SELECT MASTER_GTID_WAIT('{position}', 30);");
                Assert.Equal("0", waited);
                Assert.Equal(marker, await MariaDbCli.QueryAsync(replica, "dba", $"SELECT v FROM `{db}`.t WHERE id = 1;"));
            }
        }
        finally
        {
            await MariaDbCli.QueryAsync(primary, "dba", $"DROP DATABASE IF EXISTS `{db}`;");
        }
    }

    [Fact]
    public async Task CommerceStartsWithTheSeedsSchema()
    {
        var tables = await MariaDbCli.QueryAsync(Cluster.Primary("commerce"), "dba", "SHOW TABLES;", "vt_commerce");
        var names = tables.Split('\n');
        Assert.Contains("customer", names);
        Assert.Contains("corder", names);
        Assert.Contains("product", names);
    }

    [Fact]
    public async Task TimeZoneTablesAreLoaded()
    {
        var converted = await MariaDbCli.QueryAsync(Cluster.Primary("commerce"), "dba", "SELECT CONVERT_TZ('2024-07-01 12:00:00', 'America/New_York', 'UTC');");
        Assert.Equal("2024-07-01 16:00:00", converted);
    }

    [Fact]
    public async Task EtcdAnswersPutAndRangeOnItsJsonGateway()
    {
        using var http = new HttpClient { BaseAddress = new Uri(Cluster.EtcdEndpoints.Split(',')[0]) };
        var key = Convert.ToBase64String(Encoding.UTF8.GetBytes($"/durable-cluster-test/{Guid.NewGuid():N}"));
        var value = Convert.ToBase64String(Encoding.UTF8.GetBytes("hello"));
        (await http.PostAsJsonAsync("/v3/kv/put", new { key, value })).EnsureSuccessStatusCode();
        try
        {
            var range = await http.PostAsJsonAsync("/v3/kv/range", new { key });
            range.EnsureSuccessStatusCode();
            using var doc = JsonDocument.Parse(await range.Content.ReadAsStringAsync());
            var kv = doc.RootElement.GetProperty("kvs")[0];
            Assert.Equal(value, kv.GetProperty("value").GetString());
        }
        finally
        {
            await http.PostAsJsonAsync("/v3/kv/deleterange", new { key });
        }
    }

    [Fact]
    public async Task UpRegisteredEveryTabletInTheTopology()
    {
        using var http = new HttpClient { BaseAddress = new Uri(Cluster.EtcdEndpoints.Split(',')[0]) };
        // Vitess's layout under the default root: /durable/<cell>/tablets/<alias>/Tablet.
        var prefix = Encoding.UTF8.GetBytes("/durable/zone1/tablets/");
        var end = (byte[])prefix.Clone();
        end[^1]++;
        var range = await http.PostAsJsonAsync("/v3/kv/range", new { key = Convert.ToBase64String(prefix), range_end = Convert.ToBase64String(end) });
        range.EnsureSuccessStatusCode();
        using var doc = JsonDocument.Parse(await range.Content.ReadAsStringAsync());
        var keys = doc.RootElement.GetProperty("kvs").EnumerateArray()
            .Select(kv => Encoding.UTF8.GetString(Convert.FromBase64String(kv.GetProperty("key").GetString()!)))
            .ToList();
        foreach (var tablet in Cluster.Tablets)
        {
            Assert.Contains($"/durable/zone1/tablets/{tablet.Alias}/Tablet", keys);
        }
    }

    [Fact]
    public async Task AzuriteAnswersOnBlobQueueAndTablePorts()
    {
        using var http = new HttpClient();
        foreach (var (port, service) in new[] { (Cluster.File.Azurite.BlobPort, "Blob"), (Cluster.File.Azurite.QueuePort, "Queue"), (Cluster.File.Azurite.TablePort, "Table") })
        {
            // Unsigned requests are refused, but the answer proves which Azurite service listens there.
            using var response = await http.GetAsync($"http://127.0.0.1:{port}/devstoreaccount1?comp=list");
            Assert.Contains(response.Headers.Server, s => s.Product?.Name == $"Azurite-{service}");
        }

        Assert.Contains($"QueueEndpoint=http://127.0.0.1:{Cluster.File.Azurite.QueuePort}/devstoreaccount1", Cluster.AzureStorageConnectionString);
    }
}
