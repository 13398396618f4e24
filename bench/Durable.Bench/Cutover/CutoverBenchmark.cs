using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Durable.MySql;

namespace Durable.Bench.Cutover;

/// <summary>
/// cutover-window: the write-unavailability window of SwitchTraffic/ReverseTraffic as an application sees it. A client
/// writes RATE rows/s to one table, each write sent where the routing rules say (followed through the host's
/// long-poll watch, <c>GET /api/routingrules?after=REV</c>); a write refused by a write guard is retried until it
/// lands. A write's stall is the time from when it was due to when it committed. For every switch (both directions)
/// the stall is the longest one of the writes due while it ran; the program prints p99 and worst over all switches,
/// every switch's stall, and as its last line 1/p99 (per second, higher is better; ≥ 1 means p99 ≤ 1 s).
/// </summary>
/// <remarks>
/// Settings from the environment (no password on a command line): BENCH_SERVER (host URL), BENCH_KEY (function key),
/// DURABLE_CLUSTER_FILE (tablet addresses), DURABLE_APP_PASSWORD and DURABLE_DBA_PASSWORD; for cutover-gateway also
/// BENCH_GATEWAYS (host:port,host:port), BENCH_GATEWAY_USER and BENCH_GATEWAY_PASSWORD. Arguments:
/// <c>[cycles=10] [rate=500] [report-file]</c>. The table and workflow are created and removed by the run.
/// cutover-gateway is the same run with the application going through gateways (<see cref="GatewayLoad"/>).
/// </remarks>
public static class CutoverBenchmark
{
    internal const string Source = "commerce";
    private const string Target = "customer";

    internal sealed record Tablet(string Keyspace, string Host, int Port, string Db);

    internal sealed record Switch(string Action, double Start, double End, double Took, string? Steps);

    /// <summary>The application load a run measures: started once the copy is done, stopped after the last switch.</summary>
    internal interface ICutoverLoad
    {
        double Now { get; }

        long Written { get; }

        /// <summary>Set when the load cannot go on (not a counted error of the application).</summary>
        string? Error { get; }

        /// <summary>Runs the load until <paramref name="ct"/> is cancelled; <see cref="Ready"/> completes once it writes.</summary>
        Task RunAsync(HttpClient http, CancellationToken ct);

        Task Ready { get; }

        /// <summary>Logs the run's lines and returns the measurement (higher is better) for the harness.</summary>
        double Report(IReadOnlyList<Switch> switches, int cycles, int rate, long rows, Action<string> log);
    }

    public static Task<int> RunAsync(string[] args) =>
        RunAsync(args, "cutover-window", (primaries, table, rate) => new RoutedWriter(primaries, table, rate));

    /// <summary>cutover-gateway: the application through the gateways (BENCH_GATEWAYS), which hold its statements during a switch.</summary>
    public static Task<int> RunThroughGatewaysAsync(string[] args) =>
        RunAsync(args, "cutover-gateway", (_, table, rate) => new GatewayLoad(
            [.. Setting("BENCH_GATEWAYS").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)],
            Setting("BENCH_GATEWAY_USER"), Setting("BENCH_GATEWAY_PASSWORD"), Source, table, rate));

    private static async Task<int> RunAsync(string[] args, string name, Func<Dictionary<string, Tablet>, string, int, ICutoverLoad> load)
    {
        var cycles = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10;
        var rate = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 500;
        var reportFile = args.Length > 2 ? args[2] : null;
        if (cycles < 1 || rate < 1)
        {
            Console.Error.WriteLine($"{name}: cycles {cycles} and rate {rate} must be at least 1");
            return 2;
        }

        var server = Setting("BENCH_SERVER").TrimEnd('/');
        using var http = new HttpClient { BaseAddress = new Uri(server), Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Add("x-functions-key", Setting("BENCH_KEY"));
        var primaries = Primaries(Setting("DURABLE_CLUSTER_FILE"));
        var suffix = $"{Environment.ProcessId}_{DateTime.UtcNow:HHmmss}";
        var table = "cutover_" + suffix;
        var workflow = "cutover_" + suffix;
        var report = new List<string>();
        void Log(string line)
        {
            report.Add(line);
            Console.Error.WriteLine(line);
        }

        await ExecAsync(primaries[Source], "dba", $"CREATE TABLE `{table}` (id BIGINT NOT NULL, v VARCHAR(32) NOT NULL, PRIMARY KEY (id))");
        var writer = load(primaries, table, rate);
        using var stop = new CancellationTokenSource();
        Task? write = null;
        var switches = new List<Switch>();
        try
        {
            // The streams read the source primary's binlog: a lagging replica would add its lag to every cutover
            // (the final position is read from the primary), which measures the replica, not the switch.
            var created = await PostAsync(http, $"/api/movetables/{Target}/{workflow}/create", new JsonObject { ["source_keyspace"] = Source, ["tables"] = new JsonArray(table), ["tablet_types"] = "PRIMARY", ["vdiff_interval"] = "off" }); // a VDiff hold would count as stall
            if (created.Status != 202)
            {
                throw new InvalidOperationException($"create answered {created.Status}: {created.Body}");
            }

            await WaitStateAsync(http, workflow, s => s["phase"]?.GetValue<string>() == "Running", TimeSpan.FromMinutes(2), "copy done");
            write = Task.Run(() => writer.RunAsync(http, stop.Token));
            if (await Task.WhenAny(writer.Ready, write, Task.Delay(TimeSpan.FromSeconds(30))) != writer.Ready)
            {
                throw new TimeoutException("the load did not start within 30 s: " + writer.Error);
            }

            await Task.Delay(TimeSpan.FromSeconds(3));
            for (var cycle = 0; cycle < cycles; cycle++)
            {
                foreach (var action in new[] { "switchtraffic", "reversetraffic" })
                {
                    var start = writer.Now;
                    string? steps = null;
                    // A switch refused or rolled back (lag over the limit, streams not at the final position within
                    // --timeout on a loaded machine) is sent again, as an operator would; its stall counts from the first try.
                    for (var attempt = 1; ; attempt++)
                    {
                        var answer = await PostAsync(http, $"/api/movetables/{Target}/{workflow}/{action}", new JsonObject { ["switch"] = new JsonObject { ["timeout_seconds"] = 30 } });
                        if (answer.Status != 202)
                        {
                            throw new InvalidOperationException($"{action} answered {answer.Status}: {answer.Body}");
                        }

                        var requestId = answer.Body!["request_id"]!.GetValue<string>();
                        var state = await WaitStateAsync(http, workflow, s => s["phase"]?.GetValue<string>() != "Switching" && Result(s, requestId) is not null, TimeSpan.FromMinutes(2), action);
                        var result = Result(state, requestId)!;
                        if (result["state"]?.GetValue<string>() == "done")
                        {
                            // The switch's own account of where its time went ("Steps: guards armed 12 ms, ...").
                            steps = result["message"]?.GetValue<string>()?.Split('\n').FirstOrDefault(l => l.StartsWith("Steps: ", StringComparison.Ordinal))?["Steps: ".Length..];
                            break;
                        }

                        var why = result["message"]?.GetValue<string>()?.Split('\n')[0];
                        Log($"{action} attempt {attempt} failed: {why}");
                        if (attempt == 3)
                        {
                            throw new InvalidOperationException($"{action} did not succeed in 3 attempts: {why}");
                        }

                        await Task.Delay(TimeSpan.FromSeconds(2));
                    }

                    var end = writer.Now;
                    // Let the writes due during the switch land before the next one starts, so each stall is its own.
                    await Task.Delay(TimeSpan.FromSeconds(2));
                    switches.Add(new Switch(action, start, end, end - start, steps));
                }
            }

            await stop.CancelAsync();
            await write.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (writer.Error is not null)
            {
                throw new InvalidOperationException("the writer failed: " + writer.Error);
            }

            // Every acknowledged write is on the side writes go to now (the source, after the last ReverseTraffic).
            var rows = long.Parse((await ScalarAsync(primaries[Source], "dba", $"SELECT COUNT(*) FROM `{table}`"))!, CultureInfo.InvariantCulture);
            var measurement = writer.Report(switches, cycles, rate, rows, Log);
            var cancel = await PostAsync(http, $"/api/movetables/{Target}/{workflow}/cancel", new JsonObject());
            if (cancel.Status == 202)
            {
                await WaitStateAsync(http, workflow, s => s["phase"]?.GetValue<string>() == "Cancelled", TimeSpan.FromMinutes(1), "cancel");
            }

            if (reportFile is not null)
            {
                await File.WriteAllLinesAsync(reportFile, report);
            }

            Console.WriteLine(measurement.ToString("F3", CultureInfo.InvariantCulture));
            return 0;
        }
        finally
        {
            await stop.CancelAsync();
            if (write is not null)
            {
                await write.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            await ExecAsync(primaries[Source], "dba", $"DROP TABLE IF EXISTS `{table}`");
            await ExecAsync(primaries[Target], "dba", $"DROP TABLE IF EXISTS `{table}`");
        }
    }

    private static JsonNode? Result(JsonObject state, string requestId) =>
        state["commands"]?.AsArray().LastOrDefault(c => c?["request_id"]?.GetValue<string>() == requestId);

    /// <summary>Linear interpolation between closest ranks (sorted input).</summary>
    internal static double Percentile(IReadOnlyList<double> sorted, double p)
    {
        if (sorted.Count == 0)
        {
            return 0;
        }

        var rank = p * (sorted.Count - 1);
        var lo = (int)Math.Floor(rank);
        var hi = Math.Min(lo + 1, sorted.Count - 1);
        return sorted[lo] + ((sorted[hi] - sorted[lo]) * (rank - lo));
    }

    internal static string Setting(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : throw new InvalidOperationException($"{name} is not set");

    private static Dictionary<string, Tablet> Primaries(string clusterFile)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(clusterFile));
        var result = new Dictionary<string, Tablet>(StringComparer.Ordinal);
        foreach (var t in doc.RootElement.GetProperty("tablets").EnumerateArray())
        {
            var ks = t.GetProperty("keyspace").GetString()!;
            if (t.GetProperty("type").GetString() == "PRIMARY" && ks is Source or Target)
            {
                result[ks] = new Tablet(ks, t.GetProperty("host").GetString()!, t.GetProperty("port").GetInt32(), t.GetProperty("dbName").GetString()!);
            }
        }

        if (result.Count != 2)
        {
            throw new InvalidOperationException($"{clusterFile} does not list PRIMARY tablets of both {Source} and {Target}");
        }

        return result;
    }

    private static MySqlConnectionOptions Options(Tablet t, string role) => new()
    {
        Host = t.Host,
        Port = t.Port,
        User = "durable_" + role,
        Password = Setting($"DURABLE_{role.ToUpperInvariant()}_PASSWORD"),
        Database = t.Db,
        SslMode = SslMode.Disabled,
    };

    private static async Task ExecAsync(Tablet t, string role, string sql)
    {
        await using var c = await MySqlConnection.OpenAsync(Options(t, role));
        await c.ExecuteAsync(sql);
    }

    private static async Task<string?> ScalarAsync(Tablet t, string role, string sql)
    {
        await using var c = await MySqlConnection.OpenAsync(Options(t, role));
        return await c.QueryScalarAsync(sql);
    }

    internal static string SwitchName(IReadOnlyList<Switch> switches, int i) => $"{(switches[i].Action == "switchtraffic" ? "S" : "R")}{i / 2 + 1}";

    private static async Task<(int Status, JsonObject? Body)> PostAsync(HttpClient http, string path, JsonObject body)
    {
        using var response = await http.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length > 0 ? JsonNode.Parse(text) as JsonObject : null);
    }

    private static async Task<JsonObject> WaitStateAsync(HttpClient http, string workflow, Func<JsonObject, bool> until, TimeSpan timeout, string what)
    {
        var deadline = Stopwatch.StartNew();
        JsonObject? last = null;
        while (deadline.Elapsed < timeout)
        {
            using var response = await http.GetAsync($"/api/movetables/{Target}/{workflow}/state");
            if (response.IsSuccessStatusCode && JsonNode.Parse(await response.Content.ReadAsStringAsync()) is JsonObject s)
            {
                last = s;
                if (until(s))
                {
                    return s;
                }
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"{what}: not reached within {timeout.TotalSeconds:0} s; phase {last?["phase"]}, error {last?["last_error"]}");
    }

    /// <summary>The application: follows the rules through the long-poll, writes at a fixed rate where they point.</summary>
    private sealed class RoutedWriter(Dictionary<string, Tablet> primaries, string table, int rate) : ICutoverLoad
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly TaskCompletionSource _firstRules = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly ConcurrentQueue<(double Due, double Done)> _writes = new();
        private volatile string _writesTo = Source;

        public double Now => _clock.Elapsed.TotalSeconds;

        public Task Ready => _firstRules.Task;

        private long _written;
        private long _refused;

        /// <summary>Connections writing side by side (a pool).</summary>
        public int Connections { get; init; } = 16;

        public long Written => Interlocked.Read(ref _written);

        public long Refused => Interlocked.Read(ref _refused);

        public volatile string? Error;

        string? ICutoverLoad.Error => Error ?? RulesError;

        public string? RulesError { get; private set; }

        /// <summary>Follows the rules and, once it has them, writes where they point.</summary>
        public async Task RunAsync(HttpClient http, CancellationToken ct)
        {
            var follow = Task.Run(() => FollowRulesAsync(http, ct), ct);
            await Task.WhenAny(_firstRules.Task, Task.Delay(Timeout.Infinite, ct)); // WhenAny never throws: cancelled is a completed task too
            if (!ct.IsCancellationRequested)
            {
                await WriteAsync(ct);
            }

            await follow.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        public double Report(IReadOnlyList<Switch> switches, int cycles, int rate, long rows, Action<string> log)
        {
            if (rows != Written)
            {
                throw new InvalidOperationException($"{Source}.{table} has {rows} rows but {Written} writes were acknowledged");
            }

            var stalls = switches.Select(s => StallDuring(s.Start, s.End)).ToList();
            var sorted = stalls.Order().ToList();
            var p99 = Percentile(sorted, 0.99);
            var all = Latencies();
            log($"{cycles} cycles ({switches.Count} switches) at {rate} rows/s: {Written} rows written, {Refused} writes refused by guards and retried, all {rows} rows present");
            log($"per-switch write stall: p50 {Percentile(sorted, 0.5):F3} s, p99 {p99:F3} s, worst {sorted[^1]:F3} s (goal p99 <= 1 s)");
            log($"all writes: p50 {Percentile(all, 0.5) * 1000:F1} ms, p99 {Percentile(all, 0.99) * 1000:F1} ms, p99.9 {Percentile(all, 0.999) * 1000:F1} ms, max {all[^1] * 1000:F1} ms");
            log("each switch: " + string.Join(", ", switches.Select((s, i) => $"{SwitchName(switches, i)} stall {stalls[i]:F3}s (command {s.Took:F1}s)")));
            // Where the slowest switches spent their time, as the switch itself measured it.
            foreach (var i in Enumerable.Range(0, switches.Count).OrderByDescending(i => stalls[i]).Take(3))
            {
                log($"slow switch {SwitchName(switches, i)} (stall {stalls[i]:F3}s): {switches[i].Steps ?? "no steps reported"}");
            }

            return 1 / Math.Max(p99, 0.001);
        }

        /// <summary>The long-poll loop: every answer with a new revision updates where the table's writes go.</summary>
        public async Task FollowRulesAsync(HttpClient http, CancellationToken ct)
        {
            long revision = -1;
            while (!ct.IsCancellationRequested)
            {
                try
                {
                    // The first call has no revision yet: it answers at once with the current rules.
                    using var response = await http.GetAsync(revision < 0 ? "/api/routingrules" : $"/api/routingrules?after={revision}&timeout=30", ct);
                    response.EnsureSuccessStatusCode();
                    var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))!.AsObject();
                    revision = body["revision"]!.GetValue<long>();
                    var to = body["rules"]!.AsArray().FirstOrDefault(r => r?["from_table"]?.GetValue<string>() == table)?["to_tables"]?[0]?.GetValue<string>();
                    _writesTo = to is null ? Source : to.Split('.')[0];
                    _firstRules.TrySetResult();
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e) when (e is HttpRequestException or JsonException or InvalidOperationException or NullReferenceException)
                {
                    // The host restarting or an answer without rules: ask again shortly; the writer keeps the last route.
                    RulesError = e.Message;
                    await Task.Delay(100, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }
            }
        }

        /// <summary>
        /// Open loop: write i is due at start + i/rate; a late or refused write is retried until it lands. Several
        /// connections share the schedule (each takes the next id), so one slow insert does not delay the ones due
        /// after it, as in an application with a connection pool.
        /// </summary>
        public async Task WriteAsync(CancellationToken ct)
        {
            var start = Now;
            long next = 0;
            var workers = Enumerable.Range(0, Connections).Select(_ => Task.Run(async () =>
            {
                var connections = new Dictionary<string, MySqlConnection>(StringComparer.Ordinal);
                try
                {
                    while (!ct.IsCancellationRequested && Error is null)
                    {
                        var id = Interlocked.Increment(ref next);
                        var due = start + (id / (double)rate);
                        var wait = due - Now;
                        if (wait > 0.001)
                        {
                            await Task.Delay(TimeSpan.FromSeconds(wait), ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                        }

                        while (!ct.IsCancellationRequested)
                        {
                            var ks = _writesTo;
                            try
                            {
                                if (!connections.TryGetValue(ks, out var c))
                                {
                                    c = await MySqlConnection.OpenAsync(Options(primaries[ks], "app"), ct);
                                    connections[ks] = c;
                                }

                                await c.ExecuteAsync($"INSERT INTO `{table}` (id, v) VALUES ({id}, 'w')", ct);
                                Interlocked.Increment(ref _written);
                                _writes.Enqueue((due, Now));
                                break;
                            }
                            catch (MySqlException e) when (e.SqlState == "45000")
                            {
                                // A write guard: the rules have moved (or are about to); retry where they point.
                                Interlocked.Increment(ref _refused);
                                await Task.Delay(1, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                            }
                            catch (MySqlException e)
                            {
                                Error = $"write {id} to {ks}: {e.Message}";
                                return;
                            }
                        }
                    }
                }
                finally
                {
                    foreach (var c in connections.Values)
                    {
                        await c.DisposeAsync();
                    }
                }
            })).ToList();
            await Task.WhenAll(workers);
        }

        /// <summary>The longest stall of the writes due between <paramref name="from"/> and <paramref name="to"/>.</summary>
        public double StallDuring(double from, double to) =>
            _writes.Where(w => w.Due >= from && w.Due <= to).Select(w => w.Done - w.Due).DefaultIfEmpty(0).Max();

        public List<double> Latencies() => [.. _writes.Select(w => w.Done - w.Due).Order()];
    }
}
