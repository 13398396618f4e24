using System.Text.Json.Nodes;
using DurableTask.Core.History;

namespace Durable.Functions.Engine;

/// <summary>
/// The framework's stored history (Newtonsoft-serialized <see cref="HistoryEvent"/>s with type annotations and the
/// event type as a number) reshaped for people and the HTTP API: the event type by name, no type annotations.
/// </summary>
internal static class HistoryJson
{
    public static JsonArray Normalize(string serialized)
    {
        var array = JsonNode.Parse(serialized) as JsonArray ?? [];
        foreach (var e in array.OfType<JsonObject>())
        {
            e.Remove("$type");
            if (e["EventType"] is JsonValue v && v.TryGetValue<int>(out var number) && Enum.IsDefined(typeof(EventType), number))
            {
                e["EventType"] = ((EventType)number).ToString();
            }

            if (e["OrchestrationInstance"] is JsonObject oi)
            {
                oi.Remove("$type");
            }
        }

        return array;
    }
}
