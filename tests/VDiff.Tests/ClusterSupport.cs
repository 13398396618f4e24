using Durable.MySql;
using Durable.Testing;

namespace Durable.VDiff.Tests;

/// <summary>
/// A test's own pair of databases on the shared cluster: the source on the commerce primary (uid 100), the target on
/// the customer primary (uid 200), with unique names, dropped on dispose.
/// </summary>
public sealed class PairBed : IAsyncDisposable
{
    public const int SourceUid = 100;
    public const int TargetUid = 200;

    public PairBed(string name)
    {
        Suffix = $"{name}_{Environment.ProcessId}_{Guid.NewGuid().ToString("N")[..6]}";
        SourceDb = "vds_" + Suffix;
        TargetDb = "vdt_" + Suffix;
        SidecarName = "_vt_vd_" + Suffix;
    }

    public string Suffix { get; }

    public string SourceDb { get; }

    public string TargetDb { get; }

    public string SidecarName { get; }

    public static MySqlConnectionOptions Dba(int uid, string? database = null)
    {
        var cluster = LocalCluster.Current;
        var tablet = cluster.Tablet(uid);
        var (user, password) = cluster.Account("dba");
        return new MySqlConnectionOptions { Host = tablet.Host, Port = tablet.Port, User = user, Password = password, Database = database, SslMode = SslMode.Disabled };
    }

    public static Task<MySqlConnection> OpenAsync(int uid, string? database = null) => MySqlConnection.OpenAsync(Dba(uid, database));

    public async Task CreateAsync()
    {
        await using (var s = await OpenAsync(SourceUid))
        {
            await s.ExecuteAsync($"CREATE DATABASE `{SourceDb}`");
        }

        await using var t = await OpenAsync(TargetUid);
        await t.ExecuteAsync($"CREATE DATABASE `{TargetDb}`");
    }

    /// <summary>Runs the statements on both sides (same schema and data), with the session in UTC.</summary>
    public async Task BothAsync(params string[] statements)
    {
        await ExecAsync(SourceUid, SourceDb, statements);
        await ExecAsync(TargetUid, TargetDb, statements);
    }

    public async Task SourceAsync(params string[] statements) => await ExecAsync(SourceUid, SourceDb, statements);

    public async Task TargetAsync(params string[] statements) => await ExecAsync(TargetUid, TargetDb, statements);

    private static async Task ExecAsync(int uid, string db, string[] statements)
    {
        await using var c = await OpenAsync(uid, db);
        await c.ExecuteAsync("SET SESSION time_zone = '+00:00'");
        foreach (var s in statements)
        {
            await c.ExecuteAsync(s);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (uid, db) in new[] { (SourceUid, SourceDb), (TargetUid, TargetDb), (TargetUid, SidecarName) })
        {
            try
            {
                await using var c = await OpenAsync(uid);
                await c.ExecuteAsync($"DROP DATABASE IF EXISTS `{db}`");
            }
            catch (MySqlException)
            {
                // Best effort: a leftover test database does not affect other tests (names are unique).
            }
        }
    }
}
