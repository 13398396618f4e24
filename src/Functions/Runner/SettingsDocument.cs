using System.Text.Json;

namespace Durable.Functions.Runner;

/// <summary>
/// The JSON files the runner reads as Functions does (host.json, local.settings.json): comments and trailing commas
/// allowed, a JSON object at the top, and a parse error that names the file.
/// </summary>
internal static class SettingsDocument
{
    /// <summary>Parses <paramref name="json"/>; the caller disposes the document. <paramref name="expected"/> describes the top level in the error.</summary>
    public static JsonDocument ParseObject(string json, string source, string expected)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new HostJsonException($"{source} is not valid JSON: {e.Message}");
        }

        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            var found = doc.RootElement.ValueKind;
            doc.Dispose();
            throw new HostJsonException($"{source}: the top level must be {expected}, found {found}.");
        }

        return doc;
    }
}
