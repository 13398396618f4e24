using Durable.Testing;

namespace Durable.Replication.Tests;

/// <summary>The shared <see cref="MixedWriteLoad"/> on a database of a local-cluster server (the source primary by default).</summary>
public static class Workload
{
    /// <param name="maxOpsPerSecond">0: as fast as the server goes; else a pace (see <see cref="MixedWriteLoad"/>).</param>
    public static async Task<WriteLoadStats> RunAsync(string db, string table, int keySpace, CancellationToken ct, int sourceUid = 100, int seed = 12345, int maxOpsPerSecond = 0)
    {
        await using var c = await TestBed.OpenDbaAsync(sourceUid, db);
        return await MixedWriteLoad.RunAsync(c, table, keySpace, ct, seed, maxOpsPerSecond);
    }
}
