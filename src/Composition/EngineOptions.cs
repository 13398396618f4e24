using Durable.Workflows;
using Microsoft.Extensions.Configuration;

namespace Durable.Composition;

/// <summary>
/// The engine's settings as app settings name them (flat names, as Azure Functions app settings and
/// local.settings.json Values are; environment variables of the same names override them), bound through
/// <c>IOptions&lt;EngineOptions&gt;</c>. Passwords are read here and never logged.
/// </summary>
public sealed class EngineOptions
{
    [ConfigurationKeyName(MoveTablesEnvironmentOptions.EtcdSetting)] public string? EtcdEndpoints { get; set; }

    [ConfigurationKeyName(MoveTablesEnvironmentOptions.RootSetting)] public string? TopologyRoot { get; set; }

    [ConfigurationKeyName(MoveTablesEnvironmentOptions.EngineUserSetting)] public string? EngineUser { get; set; }

    [ConfigurationKeyName(MoveTablesEnvironmentOptions.EnginePasswordSetting)] public string? EnginePassword { get; set; }

    /// <summary>The engine password under the name the local cluster's secrets file gives it, used when DURABLE_ENGINE_PASSWORD is unset.</summary>
    [ConfigurationKeyName("DURABLE_FILTERED_PASSWORD")] public string? FilteredPassword { get; set; }

    [ConfigurationKeyName(MoveTablesEnvironmentOptions.SidecarSetting)] public string? SidecarName { get; set; }

    [ConfigurationKeyName(MoveTablesEnvironmentOptions.SecretsFileSetting)] public string? SecretsFile { get; set; }

    [ConfigurationKeyName(ConfiguredApproverKeys.Setting)] public string? ApproverKeys { get; set; }

    [ConfigurationKeyName(MoveTablesEnvironmentOptions.CopyChunkRowsSetting)] public string? CopyChunkRows { get; set; }

    /// <summary>
    /// Default VDiff interval of new MoveTables workflows: a duration (1h, 30m) or off; off when unset. Read once when the
    /// host registers VDiff (a bad value fails the start), then frozen in its registry, so it is not an options property.
    /// </summary>
    public const string VDiffIntervalSetting = "DURABLE_VDIFF_INTERVAL";

    /// <summary>True when a topology is configured; without one the host still starts (and runs only what needs none).</summary>
    public bool IsConfigured => !string.IsNullOrWhiteSpace(EtcdEndpoints);

    /// <summary>
    /// The settings checked and resolved (defaults, the secrets file, the copy budget), or null when no topology is
    /// configured. Bad values fail with a message naming the setting and what is valid.
    /// </summary>
    public MoveTablesEnvironmentOptions? Resolve() => MoveTablesEnvironmentOptions.FromSettings(name => name switch
    {
        MoveTablesEnvironmentOptions.EtcdSetting => EtcdEndpoints,
        MoveTablesEnvironmentOptions.RootSetting => TopologyRoot,
        MoveTablesEnvironmentOptions.EngineUserSetting => EngineUser,
        MoveTablesEnvironmentOptions.EnginePasswordSetting => EnginePassword,
        "DURABLE_FILTERED_PASSWORD" => FilteredPassword,
        MoveTablesEnvironmentOptions.SidecarSetting => SidecarName,
        MoveTablesEnvironmentOptions.SecretsFileSetting => SecretsFile,
        ConfiguredApproverKeys.Setting => ApproverKeys,
        MoveTablesEnvironmentOptions.CopyChunkRowsSetting => CopyChunkRows,
        _ => null,
    } is { Length: > 0 } value ? value : null);
}
