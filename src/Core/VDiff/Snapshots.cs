using Durable.Core.Positions;
using Durable.MySql;
using Durable.MySql.Flavors;
using Durable.Replication;

namespace Durable.VDiff;

/// <summary>
/// A source and a target connection, each inside a consistent snapshot, of the same logical moment of the stream (the
/// target has applied exactly the source's position). Disposing ends both snapshots and lets the stream run on.
/// </summary>
public sealed class SnapshotPair(MySqlConnection source, MySqlConnection target, GtidPosition? position, Func<Task>? release = null) : IAsyncDisposable
{
    public MySqlConnection Source { get; } = source;

    public MySqlConnection Target { get; } = target;

    /// <summary>The source position G both snapshots stand at (null for unaligned snapshots of quiesced data).</summary>
    public GtidPosition? Position { get; } = position;

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (release is not null)
            {
                await release().ConfigureAwait(false);
            }
        }
        finally
        {
            await Source.DisposeAsync().ConfigureAwait(false);
            await Target.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>Opens one aligned pair of snapshots for a segment of a shard's diff.</summary>
public interface ISnapshotSource
{
    Task<SnapshotPair> OpenAsync(CancellationToken ct);
}

/// <summary>
/// Snapshots of two tablets without a stream between them (quiesced data, or tables copied by other means): each side
/// opens its own consistent snapshot. Used for ad-hoc pairs and tests; a workflow's VDiff uses <see cref="StreamAlignedSnapshots"/>.
/// </summary>
public sealed class DirectSnapshots(Func<CancellationToken, Task<MySqlConnection>> openSource, Func<CancellationToken, Task<MySqlConnection>> openTarget) : ISnapshotSource
{
    public async Task<SnapshotPair> OpenAsync(CancellationToken ct)
    {
        var source = await openSource(ct).ConfigureAwait(false);
        MySqlConnection? target = null;
        try
        {
            target = await openTarget(ct).ConfigureAwait(false);
            await TableDiffer.PrepareSessionAsync(source, ct).ConfigureAwait(false);
            await TableDiffer.PrepareSessionAsync(target, ct).ConfigureAwait(false);
            var position = await ServerFlavor.For(source).StartConsistentSnapshotAsync(source, ct).ConfigureAwait(false);
            await ServerFlavor.For(target).StartConsistentSnapshotAsync(target, ct).ConfigureAwait(false);
            return new SnapshotPair(source, target, position);
        }
        catch
        {
            await source.DisposeAsync().ConfigureAwait(false);
            if (target is not null)
            {
                await target.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }
}
