using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;

namespace Durable.Workflows;

/// <summary>The durable record that one switch request (intent id) has finished, with the answer it gave.</summary>
public sealed record FinishedSwitch(
    [property: JsonPropertyName("intent_id")] string IntentId,
    [property: JsonPropertyName("result")] SwitchResult Result,
    [property: JsonPropertyName("finished_at")] DateTimeOffset FinishedAt);

/// <summary>Where finished switch intents are kept (etcd next to the workflow's journal; in memory for unit tests).</summary>
public interface ISwitchOutcomes
{
    Task<FinishedSwitch?> GetAsync(string keyspace, string workflow, string intentId, CancellationToken ct);

    Task RecordAsync(string keyspace, string workflow, FinishedSwitch outcome, CancellationToken ct);
}

/// <summary>Finished intents in a dictionary: for unit tests of the orchestration on the in-memory hub.</summary>
public sealed class InMemorySwitchOutcomes : ISwitchOutcomes
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, FinishedSwitch> _finished = new(StringComparer.Ordinal);

    public Task<FinishedSwitch?> GetAsync(string keyspace, string workflow, string intentId, CancellationToken ct) =>
        Task.FromResult(_finished.TryGetValue($"{keyspace}/{workflow}/{intentId}", out var f) ? f : null);

    public Task RecordAsync(string keyspace, string workflow, FinishedSwitch outcome, CancellationToken ct)
    {
        _finished[$"{keyspace}/{workflow}/{outcome.IntentId}"] = outcome;
        return Task.CompletedTask;
    }
}

/// <summary>
/// Makes a switch request act at most once. Activities are delivered at least once, and a copy of an old switch
/// message can arrive long after its switch finished, even after later commands; when the traffic it assumed happens
/// to be the current one again (switch, reverse, then the old switch's copy), nothing else would stop it from switching
/// again behind the workflow's back. So every finished intent is recorded durably, and a request whose intent is
/// recorded answers what it answered then and changes nothing.
/// </summary>
public static class SwitchLedger
{
    public static async Task<SwitchResult> RunOnceAsync(ISwitchOutcomes outcomes, SwitchRequest request, Func<Task<SwitchResult>> run, CancellationToken ct)
    {
        var spec = request.State.Spec;
        if (await outcomes.GetAsync(spec.TargetKeyspace, spec.Workflow, request.IntentId, ct).ConfigureAwait(false) is { } done)
        {
            return Repeated(done);
        }

        SwitchResult result;
        try
        {
            result = await run().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not SwitchLeaseLostException && !(e is OperationCanceledException && ct.IsCancellationRequested))
        {
            // The activity fails and the orchestration moves on (the switch activity is called without retries): this
            // intent is over. Not so when the lease was lost: the process that took the journal over records the answer. A host shutting down cancels instead, and then the message is delivered again and must
            // still act, so a cancellation is not recorded. Recording is best effort: the failure itself is what the
            // orchestration must see.
            try
            {
                await outcomes.RecordAsync(spec.TargetKeyspace, spec.Workflow, new FinishedSwitch(request.IntentId,
                    new SwitchResult(false, "failed: " + e.Message, request.State.Traffic, request.State.Streams, request.State.ReverseStreams), DateTimeOffset.UtcNow), CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception recordError) when (recordError is not OperationCanceledException)
            {
                // keep the original failure
            }

            throw;
        }

        // The switch has happened (or been refused) whatever this write does: its answer must reach the orchestration,
        // which would otherwise record a failure for a switch that changed the traffic. A write switch recorded itself
        // already, with the journal's end; this overwrite adds the final message, and is the only record of a read
        // switch or a refusal, so it is tried twice before the answer goes out without it.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await outcomes.RecordAsync(spec.TargetKeyspace, spec.Workflow, new FinishedSwitch(request.IntentId, result, DateTimeOffset.UtcNow), ct).ConfigureAwait(false);
                return result;
            }
            catch (Exception e) when (e is not OperationCanceledException && attempt < 2)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                return result with { Message = result.Message + $" (its finished intent could not be recorded: {e.Message})" };
            }
        }
    }

    /// <summary>The answer to a repeated delivery: what the finished switch answered, saying that nothing changed now.</summary>
    public static SwitchResult Repeated(FinishedSwitch done) => done.Result with
    {
        Message = $"switch request {done.IntentId} had already finished at {done.FinishedAt.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)}Z " +
                  $"({done.Result.Message}); this repeated delivery changed nothing",
        Repeated = true,
    };
}

/// <summary>
/// Per-step timings of one switch, for the audit trail and the log: where the write-refused window goes
/// ("guards armed 12 ms, streams at final position 230 ms, ..."). Operators read it to tell a slow stream from a slow
/// lock or etcd.
/// </summary>
public sealed class SwitchTimings
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<(string Step, double Ms)> _steps = [];
    private double _last;

    /// <summary>Records the time since the previous mark under <paramref name="step"/>.</summary>
    public void Mark(string step)
    {
        var now = _clock.Elapsed.TotalMilliseconds;
        _steps.Add((step, now - _last));
        _last = now;
    }

    /// <summary>
    /// How long writes were refused: from the first guard armed to the last lifted, on <see cref="WindowClock"/> (the
    /// first primary of the side writes leave), so a window a crash handed to another process is measured the same way.
    /// </summary>
    public double? WindowMs { get; set; }

    public IReadOnlyList<(string Step, double Ms)> Steps => _steps;

    public override string ToString()
    {
        var text = new StringBuilder();
        text.AppendJoin(", ", _steps.Select(s => $"{s.Step} {s.Ms.ToString("0", CultureInfo.InvariantCulture)} ms"));
        if (WindowMs is { } w)
        {
            text.Append(CultureInfo.InvariantCulture, $"; writes refused for {w:0} ms (source primary's clock)");
        }

        return text.ToString();
    }
}
