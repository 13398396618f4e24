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

    public static string Scalar(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString() ?? "",
        JsonValueKind.Null or JsonValueKind.Undefined => "",
        _ => e.GetRawText(),
    };
}
