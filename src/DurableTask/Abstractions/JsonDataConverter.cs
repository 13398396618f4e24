using System.Text.Json;

namespace Durable.DurableTask;

/// <summary>How inputs, outputs and event payloads become text in history and messages: System.Text.Json, web defaults.</summary>
public sealed class JsonDataConverter
{
    public static readonly JsonDataConverter Default = new();

    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);

    public string? Serialize(object? value) => value is null ? null : JsonSerializer.Serialize(value, value.GetType(), Options);

    public T? Deserialize<T>(string? json) => json is null ? default : JsonSerializer.Deserialize<T>(json, Options);

    public object? Deserialize(string? json, Type type) => json is null ? null : JsonSerializer.Deserialize(json, type, Options);
}
