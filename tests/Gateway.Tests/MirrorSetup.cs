using System.Globalization;
using Durable.MySql;
using Durable.Testing;

namespace Durable.Gateway.Tests;

/// <summary>
/// What a mirror test needs on the servers, under names of its own: a table T with the same rows in commerce (the
/// source) and customer (the target), a second commerce table (never mirrored), and a function F that statements call.
/// On the source F(x) is x; on the target it also counts its calls in a table (and may sleep, to make the target slow),
/// so the target's own server says how many mirrored statements it ran. Made and dropped with the dba account.
/// </summary>
internal sealed class MirrorSetup : IAsyncDisposable
{
    private static readonly string[] Words = ["Ärger", "ärger", "apple", "Apple", "éclair", "eclair", "Zoë", "zoe", "ß", "ss"];

    private readonly MySqlConnectionOptions _source;
    private readonly IReadOnlyList<MySqlConnectionOptions> _targets;

    private static MySqlConnectionOptions Dba(string keyspace, string shard = "0")
    {
        var tablet = LocalCluster.Current.Primary(keyspace, shard);
        var (user, password) = LocalCluster.Current.Account("dba");
        return new MySqlConnectionOptions { Host = tablet.Host, Port = tablet.Port, User = user, Password = password, Database = tablet.DbName, SslMode = SslMode.Disabled };
    }

    private MirrorSetup(string targetKeyspace)
    {
        TargetKeyspace = targetKeyspace;
        var name = $"mr_{Guid.NewGuid():N}"[..16];
        Table = name + "_t";
        Other = name + "_o";
        Function = name + "_f";
        Counter = name + "_n";
        _source = Dba("commerce");
        _targets = targetKeyspace == "customer_sharded" ? [Dba(targetKeyspace, "-80"), Dba(targetKeyspace, "80-")] : [Dba(targetKeyspace)];
    }

    /// <summary>customer (unsharded) or customer_sharded (both shards: the table, the counter and F on each).</summary>
    public string TargetKeyspace { get; }

    /// <summary>For a sharded target: the VSchema placing the table by a hash vindex on id.</summary>
    public string ShardedVSchema =>
        "{\"sharded\": true, \"vindexes\": {\"hash\": {\"type\": \"hash\"}}, \"tables\": {\"" + Table + "\": {\"column_vindexes\": [{\"column\": \"id\", \"name\": \"hash\"}]}}}";

    public string Table { get; }

    public string Other { get; }

    public string Function { get; }

    public string Counter { get; }

    public static async Task<MirrorSetup> CreateAsync(int targetDelayMs, string targetKeyspace = "customer")
    {
        var setup = new MirrorSetup(targetKeyspace);
        var rows = string.Join(",", Enumerable.Range(1, 50).Select(i => $"({i}, '{Words[i % Words.Length]} {i}')"));
        var table = $"CREATE TABLE {setup.Table} (id INT PRIMARY KEY, v VARCHAR(64)) DEFAULT CHARSET utf8mb4";
        await using (var source = await MySqlConnection.OpenAsync(setup._source))
        {
            await source.ExecuteAsync(table);
            await source.ExecuteAsync($"INSERT INTO {setup.Table} VALUES {rows}");
            await source.ExecuteAsync($"CREATE TABLE {setup.Other} (id INT PRIMARY KEY)");
            await source.ExecuteAsync($"INSERT INTO {setup.Other} VALUES (1)");
            await source.ExecuteAsync($"CREATE FUNCTION {setup.Function}(x INT) RETURNS INT DETERMINISTIC RETURN x");
        }

        foreach (var options in setup._targets)
        {
            // Every row on every shard: the vindex sends each statement to one shard, which then has the row.
            await using var target = await MySqlConnection.OpenAsync(options);
            await target.ExecuteAsync(table);
            await target.ExecuteAsync($"INSERT INTO {setup.Table} VALUES {rows}");
            await target.ExecuteAsync($"CREATE TABLE {setup.Counter} (k INT PRIMARY KEY, n BIGINT NOT NULL)");
            await target.ExecuteAsync($"INSERT INTO {setup.Counter} VALUES (1, 0)");
            var delay = (targetDelayMs / 1000.0).ToString("0.000", CultureInfo.InvariantCulture);
            await target.ExecuteAsync(
                $"CREATE FUNCTION {setup.Function}(x INT) RETURNS INT MODIFIES SQL DATA BEGIN DECLARE d INT; " +
                $"UPDATE {setup.Counter} SET n = n + 1 WHERE k = 1; IF {delay} > 0 THEN SELECT SLEEP({delay}) INTO d; END IF; RETURN x; END");
        }

        return setup;
    }

    /// <summary>The statement the tests send: row <paramref name="id"/> with F called once (one row).</summary>
    public string Query(int id) => $"SELECT id, v, {Function}(id) AS f FROM {Table} WHERE id = {id}";

    public string Rules(double percent) =>
        $"{{\"rules\":[{{\"from_table\":\"commerce.{Table}\",\"to_table\":\"{TargetKeyspace}.{Table}\",\"percent\":{percent.ToString(CultureInfo.InvariantCulture)}}}]}}";

    /// <summary>Each row's answer read on the source primary directly, as the tests format answers.</summary>
    public async Task<Dictionary<int, string>> SourceAnswersAsync()
    {
        var answers = new Dictionary<int, string>();
        await using var source = await MySqlConnection.OpenAsync(_source);
        await using var reader = await source.QueryAsync($"SELECT id, v FROM {Table}");
        while (await reader.ReadAsync())
        {
            var id = reader.GetInt32(0);
            answers[id] = $"{id}|{reader.GetString(1)}|{id}";
        }

        return answers;
    }

    /// <summary>How many times F ran on the target: the mirrored statements it executed.</summary>
    public async Task<long> TargetHitsAsync() => (await TargetHitsPerServerAsync()).Sum();

    /// <summary>F's calls on each target primary (one per shard of a sharded target).</summary>
    public async Task<IReadOnlyList<long>> TargetHitsPerServerAsync()
    {
        var hits = new List<long>();
        foreach (var options in _targets)
        {
            await using var target = await MySqlConnection.OpenAsync(options);
            hits.Add(long.Parse(await target.QueryScalarAsync($"SELECT n FROM {Counter} WHERE k = 1") ?? "0", CultureInfo.InvariantCulture));
        }

        return hits;
    }

    public async ValueTask DisposeAsync()
    {
        await using (var source = await MySqlConnection.OpenAsync(_source))
        {
            await source.ExecuteAsync($"DROP TABLE IF EXISTS {Table}, {Other}");
            await source.ExecuteAsync($"DROP FUNCTION IF EXISTS {Function}");
        }

        foreach (var options in _targets)
        {
            await using var target = await MySqlConnection.OpenAsync(options);
            await target.ExecuteAsync($"DROP TABLE IF EXISTS {Table}, {Counter}");
            await target.ExecuteAsync($"DROP FUNCTION IF EXISTS {Function}");
        }
    }
}
