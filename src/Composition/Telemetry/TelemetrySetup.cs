namespace Durable.Composition.Telemetry;

/// <summary>What one process (the Functions host or the Streamer) exports through OpenTelemetry.</summary>
public sealed record TelemetrySetup
{
    /// <summary>The OTLP setting that turns OTLP export on: the standard environment variable, read from configuration.</summary>
    public const string OtlpEndpointSetting = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>The resource's service.name, unless OTEL_SERVICE_NAME overrides it.</summary>
    public required string ServiceName { get; init; }

    /// <summary>The resource's service.instance.id: the replica's name, so series and spans of replicas stay apart.</summary>
    public string? InstanceId { get; init; }

    /// <summary>Meter names exported (on /metrics, and over OTLP when configured).</summary>
    public IReadOnlyList<string> Meters { get; init; } = [];

    /// <summary>ActivitySource names whose spans are exported over OTLP (traces have no scrape endpoint).</summary>
    public IReadOnlyList<string> ActivitySources { get; init; } = [];

    /// <summary>
    /// The meter scopes that belong to this process's host. A meter created with a scope (MeterOptions.Scope, or an
    /// IMeterFactory, which scopes the meters it makes to itself) that is not among these is another host's in the same
    /// process (tests run several hosts side by side) and is dropped; meters without a scope are process-wide and kept.
    /// The host's own IMeterFactory is always among them.
    /// </summary>
    public Func<IServiceProvider, IEnumerable<object>> OwnScopes { get; init; } = _ => [];

    /// <summary>ASP.NET Core request metrics (and spans): only for processes that serve HTTP.</summary>
    public bool AspNetCore { get; init; } = true;
}
