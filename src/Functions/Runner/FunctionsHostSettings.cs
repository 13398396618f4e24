using Microsoft.Extensions.Configuration;

namespace Durable.Functions.Runner;

/// <summary>
/// Everything the host resolved at start-up from host.json, local.settings.json and the environment, in one place
/// so triggers, the management API and the runtime read the same values.
/// </summary>
public sealed record FunctionsHostSettings
{
    public const string ScriptRootSetting = "AzureWebJobsScriptRoot";
    /// <summary>The storage account of trigger queues and timer claims when a function names no other connection.</summary>
    public const string StorageSetting = "AzureWebJobsStorage";
    public const string ShutdownTimeoutSetting = "DURABLE_SHUTDOWN_TIMEOUT";
    public const string ReplicaIdSetting = "WEBSITE_INSTANCE_ID";
    public const int DefaultPort = 7071;

    public required HostJson HostJson { get; init; }

    /// <summary>The task hub name with any %Setting% reference resolved.</summary>
    public required string HubName { get; init; }

    /// <summary>The directory host.json and local.settings.json were read from (null: none found, defaults used).</summary>
    public string? ScriptRoot { get; init; }

    /// <summary>
    /// Identifies this replica: the task hub worker id (partition leases), timer records and logs. Azure sets
    /// WEBSITE_INSTANCE_ID per instance; elsewhere machine and process, so two hosts on one machine split the partitions.
    /// </summary>
    public required string ReplicaId { get; init; }

    /// <summary>How long shutdown waits for running functions before the process exits.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public string StorageConnectionSettingName => HostJson.DurableTask.ConnectionName;

    /// <summary>Resolves <c>%Name%</c> to the app setting Name; other text is returned as is.</summary>
    public static string Resolve(string value, IConfiguration configuration, string what)
    {
        if (value.Length > 2 && value.StartsWith('%') && value.EndsWith('%'))
        {
            var name = value[1..^1];
            var resolved = configuration[name];
            return string.IsNullOrEmpty(resolved)
                ? throw new HostJsonException($"{what} refers to app setting '{name}' ({value}), but that setting is not set; add it to local.settings.json Values or the environment.")
                : resolved;
        }

        return value;
    }

    /// <summary>Azure's convention: app setting <c>AzureWebJobs.&lt;name&gt;.Disabled=true</c> switches a function off.</summary>
    public static bool IsDisabled(string functionName, IConfiguration configuration) =>
        string.Equals(configuration[$"AzureWebJobs.{functionName}.Disabled"], "true", StringComparison.OrdinalIgnoreCase) ||
        configuration[$"AzureWebJobs.{functionName}.Disabled"] == "1";
}
