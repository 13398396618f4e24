using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;

namespace Durable.Contracts;

/// <summary>
/// Refuses fields a request body's type does not have. System.Text.Json drops them silently, so a misspelled flag
/// (<c>"tabel_types"</c>) would create a workflow with the default instead of what was asked for; the refusal names
/// each unknown field by its path (<c>switch.timout_seconds</c>) and lists the valid ones of that object. Nested
/// objects and arrays of objects are checked against their own types; dictionaries and free-form JSON are not.
/// </summary>
public static class JsonFieldCheck
{
    /// <summary>
    /// The refusal for <paramref name="body"/> read as <typeparamref name="T"/>, or null when every field is known;
    /// <paramref name="extra"/> are top-level fields the endpoint reads itself (e.g. <c>dry_run</c>).
    /// </summary>
    public static string? UnknownFields<T>(JsonObject body, JsonSerializerOptions? options = null, params string[] extra) =>
        UnknownFields(typeof(T), body, options, extra);

    public static string? UnknownFields(Type type, JsonObject body, JsonSerializerOptions? options = null, params string[] extra)
    {
        var problems = new List<string>();
        Check(type, body, "", WithResolver(options ?? JsonSerializerOptions.Default), extra, problems);
        return problems.Count == 0 ? null : string.Join(" ", problems);
    }

    private static void Check(Type type, JsonObject body, string path, JsonSerializerOptions options, IReadOnlyCollection<string> extra, List<string> problems)
    {
        var info = options.GetTypeInfo(type);
        if (info.Kind != JsonTypeInfoKind.Object)
        {
            return;
        }

        // Read-only properties the type computes (e.g. traffic_state) are written, never read: not input fields.
        var known = info.Properties.Where(p => p.Set is not null).ToDictionary(p => p.Name, StringComparer.Ordinal);
        var unknown = body.Select(kv => kv.Key).Where(k => !known.ContainsKey(k) && !extra.Contains(k)).ToList();
        if (unknown.Count > 0)
        {
            var valid = known.Keys.Concat(extra).Order(StringComparer.Ordinal);
            var names = string.Join(", ", unknown.Select(u => $"'{path}{u}'"));
            problems.Add($"The request body has {(unknown.Count == 1 ? "an unknown field" : "unknown fields")} {names}; " +
                         $"valid fields{(path.Length == 0 ? "" : " of " + path.TrimEnd('.'))}: {string.Join(", ", valid)}.");
        }

        foreach (var (name, value) in body)
        {
            if (!known.TryGetValue(name, out var property))
            {
                continue;
            }

            var inner = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            switch (value)
            {
                case JsonObject o:
                    Check(inner, o, $"{path}{name}.", options, [], problems);
                    break;
                case JsonArray a when ElementType(options.GetTypeInfo(inner)) is { } element:
                    for (var i = 0; i < a.Count; i++)
                    {
                        if (a[i] is JsonObject item)
                        {
                            Check(element, item, $"{path}{name}[{i}].", options, [], problems);
                        }
                    }

                    break;
            }
        }
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<JsonSerializerOptions, JsonSerializerOptions> Resolvable = new();

    /// <summary>
    /// Options that can answer metadata: ones built with <c>new()</c> get their resolver only when first used to
    /// serialize, and asking them before throws; a copy with the default resolver reads the same attributes.
    /// </summary>
    private static JsonSerializerOptions WithResolver(JsonSerializerOptions options) =>
        options.TypeInfoResolver is not null
            ? options
            : Resolvable.GetValue(options, o => new JsonSerializerOptions(o) { TypeInfoResolver = new DefaultJsonTypeInfoResolver() });

    private static Type? ElementType(JsonTypeInfo info) => info.Kind == JsonTypeInfoKind.Enumerable ? info.ElementType : null;
}
