using System.Globalization;
using System.Text.Json.Serialization;

namespace Durable.Contracts;

/// <summary>
/// MirrorTraffic flags: the share of the moving tables' read-only statements the gateways also send to the target
/// (<c>--percent</c>, 0-100; 0 removes the workflow's mirror rules for those types) and the tablet types whose
/// statements are mirrored (<c>--tablet-types</c>; default all three, as Vitess).
/// </summary>
public sealed record MirrorTrafficOptions
{
    [JsonPropertyName("percent")] public double Percent { get; init; }

    [JsonPropertyName("tablet_types")] public IReadOnlyList<string> TabletTypes { get; init; } = [];

    /// <summary>PRIMARY, REPLICA, RDONLY as given (all three when none are).</summary>
    public IReadOnlyList<string> Types() => TrafficState.ParseSwitchTypes(string.Join(",", TabletTypes));

    public void Validate()
    {
        _ = Types();
        if (double.IsNaN(Percent) || Percent < 0 || Percent > 100)
        {
            throw new WorkflowValidationException(
                $"--percent {Percent.ToString(CultureInfo.InvariantCulture)} is invalid: the share of read-only statements to mirror is a number from 0 to 100 (e.g. 1.0; 0 removes the mirror rules).");
        }
    }
}
