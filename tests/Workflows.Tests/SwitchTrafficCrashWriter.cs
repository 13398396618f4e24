using System.Collections.Concurrent;
using Durable.MySql;

namespace Durable.Workflows.Tests;

/// <summary>
/// An application as the architecture expects one: before every insert it resolves where the table's writes go from
/// the routing rules (the bed's topology), and writes there with the app account. A write refused by a guard is
/// dropped (the application would retry it as a new write); every acknowledged id is remembered, so a test can prove
/// that none was lost and no other row appeared.
/// </summary>
public sealed class RoutedWriter(ClusterBed bed, string table, long firstId) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<string, MySqlConnection> _connections = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private long _next = firstId;
    private Task? _loop;
    private long _refusingSince; // Stopwatch timestamp of the first refused write since the last accepted one; 0: none

    public ConcurrentBag<long> Acked { get; } = [];

    /// <summary>Writes whose connection broke: the row may or may not exist.</summary>
    public ConcurrentBag<long> Unknown { get; } = [];

    public int Refused { get; private set; }

    public string? LastError { get; private set; }

    /// <summary>
    /// The longest time writes were refused, as the application saw it: from a refused write to the next accepted one
    /// (the writer tries every 20 ms). <see cref="ResetRefusals"/> starts a new measurement.
    /// </summary>
    public TimeSpan LongestRefusal { get; private set; }

    /// <summary>How long writes have been refused so far, when the last write was refused.</summary>
    public TimeSpan OngoingRefusal => _refusingSince == 0 ? TimeSpan.Zero : System.Diagnostics.Stopwatch.GetElapsedTime(_refusingSince);

    public void ResetRefusals() => LongestRefusal = TimeSpan.Zero;

    public void Start() => _loop = Task.Run(() => RunAsync(_stop.Token));

    /// <summary>Waits until at least <paramref name="count"/> writes were acknowledged.</summary>
    public async Task WaitForWritesAsync(int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (Acked.Count < count)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The writer acknowledged only {Acked.Count} writes; last error: {LastError}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Holds the writer between two writes (no write is in flight when this returns).</summary>
    public Task PauseAsync() => _gate.WaitAsync();

    public void Resume() => _gate.Release();

    private async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            await _gate.WaitAsync(ct);
            try
            {
                await WriteOneAsync(ct);
            }
            finally
            {
                _gate.Release();
            }

            await Task.Delay(20, ct);
        }
    }

    private async Task WriteOneAsync(CancellationToken ct)
    {
        var id = _next++;
        var rules = (await bed.Env.Store.GetRoutingRulesAsync(ct)).Value;
        var keyspace = (RoutingRulesPlan.Resolve(rules, table) ?? "commerce." + table).Split('.')[0];
        var (uid, db) = keyspace == "customer" ? (200, "vt_customer") : (100, "vt_commerce");
        try
        {
            if (!_connections.TryGetValue(keyspace, out var c))
            {
                c = await MySqlConnection.OpenAsync(ClusterBed.Account("app", uid, db), ct);
                _connections[keyspace] = c;
            }

            await c.ExecuteAsync($"INSERT INTO `{table}` (id, v) VALUES ({id}, 'w{id}')", ct);
            Acked.Add(id);
            if (_refusingSince != 0)
            {
                var refused = System.Diagnostics.Stopwatch.GetElapsedTime(_refusingSince);
                LongestRefusal = refused > LongestRefusal ? refused : LongestRefusal;
                _refusingSince = 0;
            }
        }
        catch (MySqlException e) when (IsGuard(e))
        {
            Refused++;
            if (_refusingSince == 0)
            {
                _refusingSince = System.Diagnostics.Stopwatch.GetTimestamp();
            }
        }
        catch (Exception e) when (e is MySqlException or IOException)
        {
            // A broken connection: the write's fate is unknown only if it failed after sending; an INSERT that never
            // reached the server is simply not acknowledged. Reconnect on the next write.
            LastError = e.Message;
            Unknown.Add(id);
            if (_connections.Remove(keyspace, out var broken))
            {
                await broken.DisposeAsync();
            }
        }
    }

    /// <summary>A write guard's refusal: SQLSTATE 45000 with "Durable write guard: ..." (or its compact form "Durable guard: ..." for long names).</summary>
    public static bool IsGuard(MySqlException e) =>
        e.SqlState == "45000" && e.Message.StartsWith("Durable ", StringComparison.Ordinal) && e.Message.Contains("guard: ", StringComparison.Ordinal);

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        if (_loop is not null)
        {
            try
            {
                await _loop;
            }
            catch (OperationCanceledException)
            {
            }

            _loop = null;
        }

        foreach (var c in _connections.Values)
        {
            await c.DisposeAsync();
        }

        _connections.Clear();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
        _gate.Dispose();
    }
}
