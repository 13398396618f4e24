using System.Net.Sockets;
using System.Text;

namespace Durable.Topology;

/// <summary>
/// Which tablet types a command may read from, as <c>--tablet-types</c> says: <c>RDONLY</c>, <c>replica,primary</c>
/// (any of them, chosen at random) or <c>in_order:REPLICA,PRIMARY</c> (the first type that has a healthy tablet wins).
/// </summary>
public sealed record TabletTypeSpec(IReadOnlyList<TabletType> Types, bool InOrder)
{
    private const string InOrderPrefix = "in_order:";

    public static TabletTypeSpec Parse(string spec)
    {
        var text = spec.Trim();
        var inOrder = text.StartsWith(InOrderPrefix, StringComparison.OrdinalIgnoreCase);
        if (inOrder)
        {
            text = text[InOrderPrefix.Length..];
        }

        var types = new List<TabletType>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            TabletType type;
            try
            {
                type = TabletTypes.Parse(part);
            }
            catch (ArgumentException)
            {
                throw new ArgumentException(
                    $"Tablet types '{spec}': '{part}' is not a tablet type; expected e.g. 'RDONLY', 'replica,primary' or 'in_order:REPLICA,PRIMARY'.");
            }

            if (!types.Contains(type))
            {
                types.Add(type);
            }
        }

        return types.Count > 0
            ? new TabletTypeSpec(types, inOrder)
            : throw new ArgumentException($"Tablet types '{spec}' names no type; expected e.g. 'RDONLY', 'replica,primary' or 'in_order:REPLICA,PRIMARY'.");
    }

    public override string ToString() => (InOrder ? InOrderPrefix : "") + string.Join(',', Types.Select(TabletTypes.Name));
}

/// <summary>What a probe learned about one tablet. <see cref="ReplicationRunning"/> is null when it was not checked.</summary>
public sealed record TabletHealth(bool Reachable, bool? ReplicationRunning = null, double? LagSeconds = null, string? Problem = null)
{
    public static TabletHealth Unreachable(string problem) => new(false, null, null, problem);
}

/// <summary>Checks a tablet before a stream or a diff reads from it: reachable, replicating, and with how much lag.</summary>
public interface ITabletHealthProbe
{
    Task<TabletHealth> ProbeAsync(TabletRecord tablet, CancellationToken ct);
}

public sealed class TabletPickerOptions
{
    /// <summary>A replica lagging more than this is passed over.</summary>
    public TimeSpan MaxReplicationLag { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long one probe may take before the tablet counts as unreachable.</summary>
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>The picker found no usable tablet; the message lists every candidate and why it was passed over.</summary>
public sealed class NoHealthyTabletException(string message) : TopologyException(message);

/// <summary>
/// Chooses a source tablet for a shard among the given types and cells, as Vitess's tablet picker does: candidates
/// of the first usable type when in order (else of all types), in random order so load spreads, each probed until one
/// is reachable, replicating (replicas and rdonly) and within the lag limit.
/// </summary>
public sealed class TabletPicker(TopologyStore store, ITabletHealthProbe probe, TabletPickerOptions? options = null)
{
    private readonly TabletPickerOptions _options = options ?? new TabletPickerOptions();

    public async Task<TabletRecord> PickAsync(
        string keyspace, string shard, TabletTypeSpec types, IReadOnlyCollection<string>? cells = null, CancellationToken ct = default)
    {
        var tablets = await store.GetTabletsAsync(cells, keyspace, shard, ct).ConfigureAwait(false);
        return await PickAsync(tablets, keyspace, shard, types, cells, ct).ConfigureAwait(false);
    }

    /// <summary>Picks among an already-read tablet list (all tablets of the shard in the wanted cells).</summary>
    public async Task<TabletRecord> PickAsync(
        IReadOnlyList<TabletRecord> tablets, string keyspace, string shard, TabletTypeSpec types, IReadOnlyCollection<string>? cells, CancellationToken ct)
    {
        var rejected = new List<string>();
        var verdicts = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var group in CandidateGroups(tablets, types, cells))
        {
            foreach (var tablet in group)
            {
                var problem = await CheckAsync(tablet, ct).ConfigureAwait(false);
                if (problem is null)
                {
                    return tablet;
                }

                rejected.Add($"{tablet.Alias} {tablet.Type}: {problem}");
                verdicts[tablet.Alias] = problem;
            }
        }

        var where = cells is { Count: > 0 } ? $" in cells {string.Join(",", cells)}" : "";
        var shardTablets = await DescribeShardAsync(tablets, keyspace, shard, types, cells, verdicts, ct).ConfigureAwait(false);
        throw new NoHealthyTabletException(rejected.Count == 0
            ? $"No {types} tablet of {keyspace}/{shard}{where}; tablets of the shard: {shardTablets}."
            : $"No healthy {types} tablet of {keyspace}/{shard}{where}: {string.Join("; ", rejected)}; tablets of the shard: {shardTablets}.");
    }

    /// <summary>
    /// Every tablet of the shard, in every cell, with its type, cell and state (why it was passed over, or why it was no
    /// candidate): the list the caller got may hold only what the workflow's cells let it see, often just the primary,
    /// which told the operator nothing about the replica and rdonly tablets that exist elsewhere.
    /// </summary>
    private async Task<string> DescribeShardAsync(IReadOnlyList<TabletRecord> candidates, string keyspace, string shard, TabletTypeSpec types,
        IReadOnlyCollection<string>? cells, IReadOnlyDictionary<string, string> verdicts, CancellationToken ct)
    {
        IReadOnlyCollection<string> wantedCells = cells is { Count: > 0 } ? cells : [];
        var all = candidates;
        if (store is not null)
        {
            try
            {
                var reference = KeyspaceReference.Parse(keyspace);
                if (wantedCells.Count == 0)
                {
                    wantedCells = reference.Cells;
                }

                var everywhere = await store.GetTabletsAsync(null, (reference with { Cells = [] }).ToString(), shard, ct).ConfigureAwait(false);
                all = [.. everywhere.Select(t => t with { Keyspace = keyspace }).UnionBy(candidates, t => t.Alias)];
            }
            catch (Exception e) when (e is TopologyException or IOException or HttpRequestException)
            {
                // The list of candidates still says something; the error the caller reports is the missing tablet.
            }
        }

        var inCandidates = candidates.Select(t => t.Alias).ToHashSet(StringComparer.Ordinal);
        string State(TabletRecord t) =>
            verdicts.TryGetValue(t.Alias, out var problem) ? problem
            : !types.Types.Contains(t.TabletType) ? $"not a {types} tablet"
            : wantedCells.Count > 0 && !wantedCells.Contains(t.Cell) ? $"not in cells {string.Join(",", wantedCells)}"
            : !inCandidates.Contains(t.Alias) ? "not a candidate here (excluded)"
            : "not probed";
        return all.Count == 0
            ? "none"
            : string.Join(", ", all.OrderBy(t => t.Cell, StringComparer.Ordinal).ThenBy(t => t.Uid).Select(t => $"{t.Alias} {t.Type} (cell {t.Cell}: {State(t)})"));
    }

    /// <summary>Candidates in the order they are tried: one group per type when in order, else one shuffled group.</summary>
    public static IReadOnlyList<IReadOnlyList<TabletRecord>> CandidateGroups(
        IReadOnlyList<TabletRecord> tablets, TabletTypeSpec types, IReadOnlyCollection<string>? cells)
    {
        var inCells = tablets.Where(t => cells is not { Count: > 0 } || cells.Contains(t.Cell)).ToList();
        if (types.InOrder)
        {
            return [.. types.Types.Select(type => (IReadOnlyList<TabletRecord>)Shuffle(inCells.Where(t => t.TabletType == type)))
                .Where(g => g.Count > 0)];
        }

        var all = Shuffle(inCells.Where(t => types.Types.Contains(t.TabletType)));
        return all.Count > 0 ? [all] : [];
    }

    private async Task<string?> CheckAsync(TabletRecord tablet, CancellationToken ct)
    {
        TabletHealth health;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.ProbeTimeout);
        try
        {
            health = await probe.ProbeAsync(tablet, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return $"no answer within {_options.ProbeTimeout.TotalSeconds:0.#}s";
        }
        catch (Exception e) when (e is IOException or SocketException or TopologyException or InvalidOperationException)
        {
            return "probe failed: " + e.Message;
        }

        if (!health.Reachable)
        {
            return "unreachable" + (health.Problem is null ? "" : $" ({health.Problem})");
        }

        if (tablet.TabletType == TabletType.Primary)
        {
            return null;
        }

        if (health.ReplicationRunning == false)
        {
            return "replication is not running" + (health.Problem is null ? "" : $" ({health.Problem})");
        }

        if (health.LagSeconds is { } lag && lag > _options.MaxReplicationLag.TotalSeconds)
        {
            return $"replication lag {lag:0.#}s exceeds {_options.MaxReplicationLag.TotalSeconds:0.#}s";
        }

        return null;
    }

    private static List<TabletRecord> Shuffle(IEnumerable<TabletRecord> tablets)
    {
        var list = tablets.ToList();
        for (var i = list.Count - 1; i > 0; i--)
        {
            var j = Random.Shared.Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }

        return list;
    }
}

/// <summary>
/// The probe available until the MySQL protocol library lands: it opens a TCP connection and reads the server's
/// handshake packet, so "reachable" means a MySQL/MariaDB server answered (not just that the port is open). It cannot
/// log in, so replication state and lag are reported as not checked (null), which the picker accepts.
/// </summary>
public sealed class MySqlHandshakeProbe : ITabletHealthProbe
{
    public async Task<TabletHealth> ProbeAsync(TabletRecord tablet, CancellationToken ct)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(tablet.Host, tablet.Port, ct).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            return TabletHealth.Unreachable($"{tablet.Host}:{tablet.Port}: {e.Message}");
        }

        var stream = client.GetStream();
        var header = new byte[4];
        await stream.ReadExactlyAsync(header, ct).ConfigureAwait(false);
        var length = header[0] | (header[1] << 8) | (header[2] << 16);
        if (length is < 1 or > 1 << 16)
        {
            return TabletHealth.Unreachable($"{tablet.Host}:{tablet.Port} did not send a MySQL handshake (packet length {length}).");
        }

        var payload = new byte[length];
        await stream.ReadExactlyAsync(payload, ct).ConfigureAwait(false);
        if (payload[0] == 0xFF)
        {
            // An error packet instead of a greeting, e.g. "Host is blocked" or "Too many connections".
            var message = payload.Length > 9 ? Encoding.UTF8.GetString(payload, 9, payload.Length - 9) : "error packet";
            return TabletHealth.Unreachable($"{tablet.Host}:{tablet.Port} refused: {message}");
        }

        return payload[0] == 0x0A
            ? new TabletHealth(true)
            : TabletHealth.Unreachable($"{tablet.Host}:{tablet.Port} answered with protocol version {payload[0]}, not a MySQL v10 handshake.");
    }
}
