using System.Text.Json.Serialization;

namespace Durable.Workflows;

/// <summary>
/// What a dry run found: whether the command would go ahead (false: it would be refused, and <see cref="Message"/>
/// says why, as the command itself would), the steps it would take in the seeds' dry-run style, and their names.
/// </summary>
public sealed record DryRunReport(
    [property: JsonPropertyName("allowed")] bool Allowed,
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("steps")] IReadOnlyList<string> Lines,
    [property: JsonPropertyName("path")] IReadOnlyList<string> Path);
