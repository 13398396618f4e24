using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Durable.Cli.Infrastructure;

/// <summary>Plain-text rendering of the host's JSON answers: aligned "field: value" lines and simple tables.</summary>
public static class TextRender
{
    public static string Fields(JsonElement obj, params string[] order)
    {
        if (obj.ValueKind != JsonValueKind.Object)
        {
            return Scalar(obj);
        }

        var props = obj.EnumerateObject().ToList();
        var ordered = order.Select(o => props.FirstOrDefault(p => string.Equals(p.Name, o, StringComparison.OrdinalIgnoreCase)))
            .Where(p => p.Value.ValueKind != JsonValueKind.Undefined)
            .Concat(props.Where(p => !order.Contains(p.Name, StringComparer.OrdinalIgnoreCase)))
            .ToList();
        var width = ordered.Count == 0 ? 0 : ordered.Max(p => p.Name.Length);
        var sb = new StringBuilder();
        foreach (var p in ordered)
        {
            sb.Append(p.Name.PadRight(width)).Append(": ").Append(Scalar(p.Value)).Append('\n');
        }

        return sb.ToString().TrimEnd('\n');
    }

    public static string Table(IEnumerable<JsonElement> rows, params string[] columns)
    {
        var data = rows.Select(r => columns.Select(c => r.ValueKind == JsonValueKind.Object && r.TryGetProperty(c, out var v) ? Scalar(v) : "").ToArray()).ToList();
        var widths = columns.Select((c, i) => Math.Max(c.Length, data.Count == 0 ? 0 : data.Max(r => r[i].Length))).ToArray();
        var sb = new StringBuilder();
        sb.Append(string.Join("  ", columns.Select((c, i) => c.PadRight(widths[i]))).TrimEnd()).Append('\n');
        foreach (var row in data)
        {
            sb.Append(string.Join("  ", row.Select((v, i) => v.PadRight(widths[i]))).TrimEnd()).Append('\n');
        }

        return sb.ToString().TrimEnd('\n');
    }

    /// <summary>
    /// <c>MoveTables status</c> as text: traffic and phase, copy progress bars, the streams, the lag and the last error.
    /// The phase is Error while any stream is in Error, even from a host whose published phase still says otherwise.
    /// </summary>
    public static string Status(JsonElement status)
    {
        var sb = new StringBuilder();
        var streams = status.GetProperty("shard_streams").EnumerateObject()
            .SelectMany(shard => shard.Value.GetProperty("streams").EnumerateArray().Select(s => (Shard: shard.Name, Stream: s))).ToList();
        var failed = streams.Where(s => Str(s.Stream, "status") == "Error").ToList();
        var phase = failed.Count > 0 ? "Error" : Str(status, "phase");
        sb.AppendLine(CultureInfo.InvariantCulture, $"Traffic: {Str(status, "traffic_state")}   Phase: {phase}");
        if (status.TryGetProperty("mirror_rules", out var mirror) && mirror.ValueKind == JsonValueKind.Array && mirror.GetArrayLength() > 0)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"Mirroring: {string.Join(", ", mirror.EnumerateArray().Select(r => $"{Str(r, "from_table")} -> {Str(r, "to_table")} {r.GetProperty("percent").GetDouble().ToString("0.##", CultureInfo.InvariantCulture)}%"))}");
        }

        foreach (var t in status.GetProperty("table_copy_state").EnumerateObject())
        {
            var pct = t.Value.GetProperty("rows_percentage").GetDouble();
            var filled = (int)Math.Round(pct / 5);
            sb.AppendLine(CultureInfo.InvariantCulture, $"  {t.Name,-24} [{new string('#', filled)}{new string('-', 20 - filled)}] {pct,5:0.0}%  {t.Value.GetProperty("rows_copied")}/{t.Value.GetProperty("rows_total")} rows");
        }

        if (status.TryGetProperty("eta_seconds", out var eta) && eta.ValueKind == JsonValueKind.Number)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"  ETA {eta.GetDouble():0}s");
        }

        foreach (var (shard, s) in streams)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"  {shard} stream {s.GetProperty("id")} from {Str(s, "source_shard")}: {Str(s, "status")} {Str(s, "info")}");
        }

        if (streams.Any(s => Str(s.Stream, "status") == "Running"))
        {
            // null: no running stream has applied anything or had a heartbeat yet, so how far behind it is is not known.
            sb.AppendLine(status.TryGetProperty("lag_seconds", out var lag) && lag.ValueKind == JsonValueKind.Number
                ? string.Create(CultureInfo.InvariantCulture, $"  Lag: {lag.GetInt64()}s")
                : "  Lag: unknown (nothing applied and no heartbeat yet)");
        }

        if (status.TryGetProperty("last_error", out var err) && err.ValueKind == JsonValueKind.String)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"  Last error: {err.GetString()}");
        }
        else if (failed.Count > 0)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"  Last error: {string.Join("; ", failed.Select(f => $"stream {f.Stream.GetProperty("id")} on {f.Shard} is in Error: {Str(f.Stream, "info")}"))}");
        }

        if (status.TryGetProperty("vdiff_gate", out var gate) && gate.ValueKind == JsonValueKind.Object)
        {
            // The VDiff gate of SwitchTraffic/Complete: held (with the VDiff that holds them and what releases it) or clear.
            var held = gate.GetProperty("state").GetString() == Durable.Contracts.VDiffGateRule.Held;
            sb.AppendLine(CultureInfo.InvariantCulture, $"VDiff gate: {gate.GetProperty("state").GetString()} ({gate.GetProperty("rule").GetString()}): {gate.GetProperty("reason").GetString()}");
            if (held && gate.TryGetProperty("release", out var release) && release.ValueKind == JsonValueKind.String)
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"  {release.GetString()}");
            }
        }

        return sb.ToString().TrimEnd();
    }

    private static string Str(JsonElement obj, string name) => obj.TryGetProperty(name, out var v) ? Scalar(v) : "";

    public static string Scalar(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString() ?? "",
        JsonValueKind.Null or JsonValueKind.Undefined => "",
        _ => e.GetRawText(),
    };
}
