using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Durable.Functions.Runner;

/// <summary>
/// The settings of host.json (Azure Functions format, version 2.0) that this host honours. Unknown sections are
/// ignored, as the Functions host ignores settings of extensions it does not load; values it does read are checked
/// and rejected with a message naming the JSON path, the bad value and what would be valid.
/// </summary>
public sealed partial record HostJson
{
    public const string DefaultHubName = "DurableHub";

    /// <summary>Azure's default for a dedicated plan is 30 minutes; null means unbounded ("-1").</summary>
    public TimeSpan? FunctionTimeout { get; init; } = TimeSpan.FromMinutes(30);

    public DurableTaskSettings DurableTask { get; init; } = new();

    public QueueTriggerSettings Queues { get; init; } = new();

    /// <summary>logging.logLevel: category (or "default") → level name, fed into ASP.NET Core's Logging:LogLevel.</summary>
    public IReadOnlyDictionary<string, string> LogLevels { get; init; } = new Dictionary<string, string>();

    /// <summary>Where the settings came from, for logs and errors; null for built-in defaults.</summary>
    public string? Source { get; init; }

    public static HostJson Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (IOException e)
        {
            throw new HostJsonException($"Cannot read host.json at {path}: {e.Message}");
        }

        return Parse(text, path);
    }

    public static HostJson Parse(string json, string source = "host.json")
    {
        using (var doc = SettingsDocument.ParseObject(json, source, "a JSON object"))
        {
            var root = doc.RootElement;

            var version = String(root, "version", source);
            if (version != "2.0")
            {
                throw new HostJsonException($"{source}: version is '{version ?? "(missing)"}'; this host reads the Azure Functions v2+ format, \"version\": \"2.0\".");
            }

            var result = new HostJson { Source = source };
            if (root.TryGetProperty("functionTimeout", out var timeout))
            {
                result = result with { FunctionTimeout = FunctionTimeoutValue(timeout, source) };
            }

            if (root.TryGetProperty("logging", out var logging) && logging.ValueKind == JsonValueKind.Object &&
                logging.TryGetProperty("logLevel", out var logLevel))
            {
                result = result with { LogLevels = LogLevelsValue(logLevel, source) };
            }

            if (root.TryGetProperty("extensions", out var extensions) && extensions.ValueKind == JsonValueKind.Object)
            {
                if (extensions.TryGetProperty("durableTask", out var durable))
                {
                    result = result with { DurableTask = DurableTaskSettings.Parse(durable, source + ": extensions.durableTask") };
                }

                if (extensions.TryGetProperty("queues", out var queues))
                {
                    result = result with { Queues = QueueTriggerSettings.Parse(queues, source + ": extensions.queues") };
                }
            }

            return result;
        }
    }

    private static TimeSpan? FunctionTimeoutValue(JsonElement e, string source)
    {
        var text = e.ValueKind == JsonValueKind.String ? e.GetString()! : e.ToString();
        if (text == "-1")
        {
            return null;
        }

        var span = ParseTimeSpan(text, $"{source}: functionTimeout", "\"hh:mm:ss\" (e.g. \"00:10:00\") or \"-1\" for no limit");
        if (span <= TimeSpan.Zero)
        {
            throw new HostJsonException($"{source}: functionTimeout '{text}' must be positive, or \"-1\" for no limit.");
        }

        return span;
    }

    private static Dictionary<string, string> LogLevelsValue(JsonElement e, string source)
    {
        string[] valid = ["Trace", "Debug", "Information", "Warning", "Error", "Critical", "None"];
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw new HostJsonException($"{source}: logging.logLevel must be an object of category → level.");
        }

        foreach (var p in e.EnumerateObject())
        {
            var level = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.ToString();
            var match = valid.FirstOrDefault(v => string.Equals(v, level, StringComparison.OrdinalIgnoreCase))
                        ?? throw new HostJsonException($"{source}: logging.logLevel.{p.Name} is '{level}'; valid: {string.Join(", ", valid)}.");
            result[p.Name] = match;
        }

        return result;
    }

    internal static string? String(JsonElement obj, string name, string source)
    {
        if (!obj.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return e.ValueKind == JsonValueKind.String
            ? e.GetString()
            : throw new HostJsonException($"{source}.{name} must be a string, found {e.ValueKind} ({e}).");
    }

    internal static int? Int(JsonElement obj, string name, string source, int min, int max)
    {
        if (!obj.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out var v) || v < min || v > max)
        {
            throw new HostJsonException($"{source}.{name} is {e}; valid: a whole number from {min} to {max}.");
        }

        return v;
    }

    internal static bool? Bool(JsonElement obj, string name, string source)
    {
        if (!obj.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return e.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new HostJsonException($"{source}.{name} is {e}; valid: true or false."),
        };
    }

    internal static TimeSpan? Span(JsonElement obj, string name, string source, TimeSpan min, TimeSpan max)
    {
        if (!obj.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        var text = e.ValueKind == JsonValueKind.String ? e.GetString()! : e.ToString();
        var span = ParseTimeSpan(text, $"{source}.{name}", "\"hh:mm:ss\" (e.g. \"00:00:30\")");
        if (span < min || span > max)
        {
            throw new HostJsonException($"{source}.{name} is '{text}'; valid: from {min:c} to {max:c}.");
        }

        return span;
    }

    private static TimeSpan ParseTimeSpan(string text, string where, string valid) =>
        TimeSpan.TryParseExact(text, "c", CultureInfo.InvariantCulture, out var span)
            ? span
            : throw new HostJsonException($"{where} is '{text}'; valid: {valid}.");

    /// <summary>Task hub names become queue and container names (with suffixes such as -control-00): letters and digits, starting with a letter, 3-45 long.</summary>
    internal static bool IsValidHubName(string name) => HubNamePattern().IsMatch(name);

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9]{2,44}$")]
    private static partial Regex HubNamePattern();
}

/// <summary>
/// extensions.durableTask: the task hub and the engine's concurrency, polling, visibility and lease settings, with
/// Durable Functions' names. The defaults differ from Durable Functions' where this product needs faster recovery and
/// events than a general app (docs/durable-runtime.md gives the reason for each):
/// a killed host's in-flight activities run again within 30 s and its orchestrations resume within 60 s, an event
/// posted to any host reaches its orchestration within about a second, and an idle host stays near 400 storage
/// requests a minute.
/// </summary>
public sealed record DurableTaskSettings
{
    public string HubName { get; init; } = HostJson.DefaultHubName;

    public string StorageProviderType { get; init; } = "AzureStorage";

    /// <summary>The app setting holding the storage connection string.</summary>
    public string ConnectionName { get; init; } = "AzureWebJobsStorage";

    public int PartitionCount { get; init; } = 4;

    /// <summary>The longest wait between polls of an idle queue (Durable Functions: 30 s). 1 s keeps a command posted to another host under a second or two.</summary>
    public TimeSpan MaxQueuePollingInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a dequeued control-queue message stays hidden (Durable Functions: 5 min): a killed host's orchestration messages reappear after this.</summary>
    public TimeSpan ControlQueueVisibilityTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a running activity's message stays hidden (Durable Functions: 5 min): a killed host's activity runs
    /// again after at most this. The framework renews a running activity's message every 5 s once it is within 30 s of
    /// expiry, so 20 s leaves three renewals before a live activity could be handed out twice.
    /// </summary>
    public TimeSpan WorkItemQueueVisibilityTimeout { get; init; } = TimeSpan.FromSeconds(20);

    public bool ExtendedSessionsEnabled { get; init; }

    /// <summary>Partition leases in the hub's Partitions table (Durable Functions' newer partition manager) rather than blob leases.</summary>
    public bool UseTablePartitionManagement { get; init; } = true;

    /// <summary>How far a lease renewal extends a partition's lease: a dead host's partitions are taken over after at most this (not exposed by Durable Functions).</summary>
    public TimeSpan LeaseInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How often a host looks for partitions to take or balance (not exposed by Durable Functions).</summary>
    public TimeSpan LeaseAcquireInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How often a host renews the leases it holds.</summary>
    public TimeSpan LeaseRenewInterval { get; init; } = TimeSpan.FromSeconds(10);

    public int MaxConcurrentActivityFunctions { get; init; } = 10 * Environment.ProcessorCount;

    public int MaxConcurrentOrchestratorFunctions { get; init; } = 10 * Environment.ProcessorCount;

    internal static DurableTaskSettings Parse(JsonElement e, string where)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw new HostJsonException($"{where} must be an object.");
        }

        var result = new DurableTaskSettings();
        if (HostJson.String(e, "hubName", where) is { } hub)
        {
            // "%Name%" refers to an app setting, as in Azure Functions; it is resolved when the host starts.
            if (!(hub.Length > 2 && hub.StartsWith('%') && hub.EndsWith('%')) && !HostJson.IsValidHubName(hub))
            {
                throw new HostJsonException(
                    $"{where}.hubName '{hub}' is not a valid task hub name; valid: 3-45 letters and digits starting with a letter (it names queues and blob containers), or %SettingName%.");
            }

            result = result with { HubName = hub };
        }

        result = result with
        {
            MaxConcurrentActivityFunctions = HostJson.Int(e, "maxConcurrentActivityFunctions", where, 1, 10_000) ?? result.MaxConcurrentActivityFunctions,
            MaxConcurrentOrchestratorFunctions = HostJson.Int(e, "maxConcurrentOrchestratorFunctions", where, 1, 10_000) ?? result.MaxConcurrentOrchestratorFunctions,
            ExtendedSessionsEnabled = HostJson.Bool(e, "extendedSessionsEnabled", where) ?? result.ExtendedSessionsEnabled,
        };

        if (e.TryGetProperty("storageProvider", out var sp))
        {
            var spWhere = where + ".storageProvider";
            if (sp.ValueKind != JsonValueKind.Object)
            {
                throw new HostJsonException($"{spWhere} must be an object.");
            }

            var type = HostJson.String(sp, "type", spWhere) ?? "AzureStorage";
            var known = string.Equals(type, "AzureStorage", StringComparison.OrdinalIgnoreCase)
                ? "AzureStorage"
                : throw new HostJsonException($"{spWhere}.type is '{type}'; valid: \"AzureStorage\" (Azure Storage, or Azurite locally).");

            result = result with
            {
                StorageProviderType = known,
                ConnectionName = HostJson.String(sp, "connectionName", spWhere) ?? HostJson.String(sp, "connectionStringName", spWhere) ?? result.ConnectionName,
                // 1..16 as in Durable Functions: partitions map to control queues, and the count is fixed per hub.
                PartitionCount = HostJson.Int(sp, "partitionCount", spWhere, 1, 16) ?? result.PartitionCount,
                MaxQueuePollingInterval = HostJson.Span(sp, "maxQueuePollingInterval", spWhere, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10)) ?? result.MaxQueuePollingInterval,
                ControlQueueVisibilityTimeout = HostJson.Span(sp, "controlQueueVisibilityTimeout", spWhere, TimeSpan.FromSeconds(10), TimeSpan.FromDays(7)) ?? result.ControlQueueVisibilityTimeout,
                WorkItemQueueVisibilityTimeout = HostJson.Span(sp, "workItemQueueVisibilityTimeout", spWhere, TimeSpan.FromSeconds(10), TimeSpan.FromDays(7)) ?? result.WorkItemQueueVisibilityTimeout,
                UseTablePartitionManagement = HostJson.Bool(sp, "useTablePartitionManagement", spWhere) ?? result.UseTablePartitionManagement,
                // Blob leases last 15-60 s (the storage service's limits); the table manager is held to the same range.
                LeaseInterval = HostJson.Span(sp, "leaseInterval", spWhere, TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(60)) ?? result.LeaseInterval,
                LeaseAcquireInterval = HostJson.Span(sp, "leaseAcquireInterval", spWhere, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5)) ?? result.LeaseAcquireInterval,
                LeaseRenewInterval = HostJson.Span(sp, "leaseRenewInterval", spWhere, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5)) ?? result.LeaseRenewInterval,
            };

            if (result.LeaseRenewInterval >= result.LeaseInterval)
            {
                throw new HostJsonException($"{spWhere}.leaseRenewInterval ({result.LeaseRenewInterval:c}) must be shorter than leaseInterval ({result.LeaseInterval:c}), or leases lapse between renewals.");
            }
        }

        return result;
    }
}

/// <summary>extensions.queues: how queue-triggered functions poll and when a message is parked as poison.</summary>
public sealed record QueueTriggerSettings
{
    public TimeSpan MaxPollingInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>How long a failed message stays invisible before the next attempt (Azure default: 0).</summary>
    public TimeSpan VisibilityTimeout { get; init; } = TimeSpan.Zero;

    public int BatchSize { get; init; } = 16;

    public int NewBatchThreshold { get; init; } = 8;

    /// <summary>After this many failed dequeues the message moves to &lt;queue&gt;-poison.</summary>
    public int MaxDequeueCount { get; init; } = 5;

    /// <summary>"base64" (the Azure Functions default) or "none".</summary>
    public string MessageEncoding { get; init; } = "base64";

    internal static QueueTriggerSettings Parse(JsonElement e, string where)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw new HostJsonException($"{where} must be an object.");
        }

        var d = new QueueTriggerSettings();
        var encoding = HostJson.String(e, "messageEncoding", where) ?? d.MessageEncoding;
        if (!string.Equals(encoding, "base64", StringComparison.OrdinalIgnoreCase) && !string.Equals(encoding, "none", StringComparison.OrdinalIgnoreCase))
        {
            throw new HostJsonException($"{where}.messageEncoding is '{encoding}'; valid: \"base64\" or \"none\".");
        }

        return new QueueTriggerSettings
        {
            MaxPollingInterval = HostJson.Span(e, "maxPollingInterval", where, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10)) ?? d.MaxPollingInterval,
            VisibilityTimeout = HostJson.Span(e, "visibilityTimeout", where, TimeSpan.Zero, TimeSpan.FromDays(7)) ?? d.VisibilityTimeout,
            // 32 is the storage service's maximum for one Get Messages call.
            BatchSize = HostJson.Int(e, "batchSize", where, 1, 32) ?? d.BatchSize,
            NewBatchThreshold = HostJson.Int(e, "newBatchThreshold", where, 0, 1000) ?? d.NewBatchThreshold,
            MaxDequeueCount = HostJson.Int(e, "maxDequeueCount", where, 1, 1000) ?? d.MaxDequeueCount,
            MessageEncoding = encoding.ToLowerInvariant(),
        };
    }
}

public sealed class HostJsonException(string message) : Exception(message);
