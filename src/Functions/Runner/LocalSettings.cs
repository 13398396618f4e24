using System.Text.Json;

namespace Durable.Functions.Runner;

/// <summary>
/// local.settings.json in the Azure Functions format: <c>{"IsEncrypted": false, "Values": {...}, "Host": {"LocalHttpPort": 7071}}</c>.
/// Values become app settings with the lowest precedence, so the environment and the command line override them, as
/// with Azure Functions Core Tools.
/// </summary>
public sealed record LocalSettings(IReadOnlyDictionary<string, string> Values, int? LocalHttpPort, string Source)
{
    public const string FileName = "local.settings.json";

    public static LocalSettings? LoadIfExists(string directory)
    {
        var path = Path.Combine(directory, FileName);
        return File.Exists(path) ? Parse(File.ReadAllText(path), path) : null;
    }

    public static LocalSettings Parse(string json, string source = FileName)
    {
        using (var doc = SettingsDocument.ParseObject(json, source, "a JSON object with \"IsEncrypted\" and \"Values\""))
        {
            var root = doc.RootElement;

            if (root.TryGetProperty("IsEncrypted", out var enc) && enc.ValueKind == JsonValueKind.True)
            {
                throw new HostJsonException($"{source} has \"IsEncrypted\": true; this host reads plain values only. Decrypt it (func settings decrypt) or set the values in the environment.");
            }

            var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            if (root.TryGetProperty("Values", out var v))
            {
                if (v.ValueKind != JsonValueKind.Object)
                {
                    throw new HostJsonException($"{source}: \"Values\" must be an object of setting name → string.");
                }

                foreach (var p in v.EnumerateObject())
                {
                    if (p.Value.ValueKind != JsonValueKind.String)
                    {
                        // Azure Functions requires strings; a number or boolean here is a common slip worth naming.
                        throw new HostJsonException($"{source}: Values.{p.Name} is {p.Value.ValueKind} ({p.Value}); every value must be a JSON string, e.g. \"{p.Value}\".");
                    }

                    values[p.Name] = p.Value.GetString()!;
                }
            }

            int? port = null;
            if (root.TryGetProperty("Host", out var host) && host.ValueKind == JsonValueKind.Object &&
                host.TryGetProperty("LocalHttpPort", out var portElement))
            {
                if (portElement.ValueKind != JsonValueKind.Number || !portElement.TryGetInt32(out var p) || p is < 1 or > 65535)
                {
                    throw new HostJsonException($"{source}: Host.LocalHttpPort is {portElement}; valid: a port number from 1 to 65535.");
                }

                port = p;
            }

            return new LocalSettings(values, port, source);
        }
    }
}
