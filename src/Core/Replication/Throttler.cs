using System.Globalization;
using Durable.MySql;

namespace Durable.Replication;

/// <summary>Holds back apply work while the servers involved are under pressure.</summary>
public interface IThrottler
{
    /// <summary>Returns when apply may go on for <paramref name="stream"/>, which reads from <paramref name="source"/>.</summary>
    Task WaitAsync(StreamRecord stream, TabletEndpoint source, CancellationToken ct);
}

public sealed record ThrottleOptions
{
    /// <summary>Wait while a target replica lags more than this (null: do not check).</summary>
    public TimeSpan? MaxTargetReplicaLag { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Wait while the source's InnoDB history list is longer than this (null: do not check).</summary>
    public long? MaxSourceHistoryListLength { get; init; } = 1_000_000;

    /// <summary>How often the checks run (between checks the last answer holds).</summary>
    public TimeSpan CheckInterval { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// Throttles on target replica lag (Seconds_Behind_Master of the target shard's replicas) and on the source's InnoDB
/// history list length; while throttled it waits, re-checking every CheckInterval (<see cref="LastReason"/> says why).
/// </summary>
public sealed class ServerThrottler(TabletConnector connector, ThrottleOptions options) : IThrottler
{
    private readonly Dictionary<long, DateTime> _nextCheck = [];

    public string? LastReason { get; private set; }

    public async Task WaitAsync(StreamRecord stream, TabletEndpoint source, CancellationToken ct)
    {
        while (true)
        {
            lock (_nextCheck)
            {
                if (_nextCheck.TryGetValue(stream.Id, out var next) && next > DateTime.UtcNow)
                {
                    return;
                }
            }

            var reason = await CheckAsync(stream, source, ct).ConfigureAwait(false);
            LastReason = reason;
            if (reason is null)
            {
                lock (_nextCheck)
                {
                    _nextCheck[stream.Id] = DateTime.UtcNow + options.CheckInterval;
                }

                return;
            }

            await Task.Delay(options.CheckInterval, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Null when apply may go on, else why it must wait.</summary>
    public async Task<string?> CheckAsync(StreamRecord stream, TabletEndpoint? source, CancellationToken ct)
    {
        if (options.MaxTargetReplicaLag is { } maxLag)
        {
            foreach (var replica in await connector.Resolver.ReplicasAsync(stream.TargetKeyspace, stream.TargetShard, ct).ConfigureAwait(false))
            {
                var lag = await ReplicaLagAsync(replica, ct).ConfigureAwait(false);
                if (lag is { } seconds && seconds > maxLag.TotalSeconds)
                {
                    return $"target replica {replica.Alias} lags {seconds} s (limit {maxLag.TotalSeconds} s)";
                }
            }
        }

        if (options.MaxSourceHistoryListLength is { } maxHistory && source is not null)
        {
            await using var c = await connector.OpenAsync(source, ct: ct).ConfigureAwait(false);
            var text = await c.QueryScalarAsync("SELECT `count` FROM information_schema.INNODB_METRICS WHERE name = 'trx_rseg_history_len'", ct).ConfigureAwait(false);
            if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var history) && history > maxHistory)
            {
                return $"source {source.Alias} InnoDB history list length {history} (limit {maxHistory})";
            }
        }

        return null;
    }

    private async Task<double?> ReplicaLagAsync(TabletEndpoint replica, CancellationToken ct)
    {
        try
        {
            await using var c = await connector.OpenAsync(replica, ct: ct).ConfigureAwait(false);
            await using var r = await c.QueryAsync(c.IsMariaDb ? "SHOW ALL SLAVES STATUS" : "SHOW REPLICA STATUS", ct).ConfigureAwait(false);
            double? worst = null;
            var column = -1;
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                if (column < 0)
                {
                    column = r.GetOrdinal(c.IsMariaDb ? "Seconds_Behind_Master" : "Seconds_Behind_Source");
                }

                // NULL means the replica is not replicating: treat it as infinitely behind, as the tablet picker does.
                var value = r.IsDBNull(column) ? double.PositiveInfinity : double.Parse(r.GetString(column)!, CultureInfo.InvariantCulture);
                worst = Math.Max(worst ?? 0, value);
            }

            return worst;
        }
        catch (MySqlException)
        {
            return null; // an unreachable replica does not hold the stream back; the tablet picker keeps it out of serving
        }
    }
}
