using System.Text.Json.Serialization;

namespace Durable.Contracts;

/// <summary>Which tablet types' traffic goes to the target. Writes are PRIMARY; reads per REPLICA and RDONLY.</summary>
public sealed record TrafficState
{
    [JsonPropertyName("replica")] public bool Replica { get; init; }
    [JsonPropertyName("rdonly")] public bool Rdonly { get; init; }
    [JsonPropertyName("primary")] public bool Primary { get; init; }

    [JsonIgnore] public bool AllSwitched => Replica && Rdonly && Primary;

    [JsonIgnore] public bool NoneSwitched => !Replica && !Rdonly && !Primary;

    public bool IsSwitched(string tabletType) => tabletType switch
    {
        "REPLICA" => Replica,
        "RDONLY" => Rdonly,
        "PRIMARY" => Primary,
        _ => throw new WorkflowValidationException($"Tablet type '{tabletType}' is invalid: PRIMARY, REPLICA or RDONLY."),
    };

    public TrafficState With(string tabletType, bool switched) => tabletType switch
    {
        "REPLICA" => this with { Replica = switched },
        "RDONLY" => this with { Rdonly = switched },
        "PRIMARY" => this with { Primary = switched },
        _ => throw new WorkflowValidationException($"Tablet type '{tabletType}' is invalid: PRIMARY, REPLICA or RDONLY."),
    };

    /// <summary>
    /// The state in vtctldclient's words, by its combination rules (vtctl/workflow State.String): reads all switched,
    /// not switched, or "Reads partially switched" followed by the replica and the rdonly part ("All Replica Reads
    /// Switched" / "Replica not switched", "All Rdonly Reads Switched" / "Rdonly not switched"), then the writes. Durable
    /// switches a tablet type in all cells at once, so the per-cell forms ("Rdonly switched in cells: ...") do not occur.
    /// </summary>
    public override string ToString()
    {
        var parts = new List<string>();
        if (Replica && Rdonly)
        {
            parts.Add("All Reads Switched");
        }
        else if (!Replica && !Rdonly)
        {
            parts.Add("Reads Not Switched");
        }
        else
        {
            parts.Add("Reads partially switched");
            parts.Add(Replica ? "All Replica Reads Switched" : "Replica not switched");
            parts.Add(Rdonly ? "All Rdonly Reads Switched" : "Rdonly not switched");
        }

        parts.Add(Primary ? "Writes Switched" : "Writes Not Switched");
        return string.Join(". ", parts);
    }

    /// <summary>--tablet-types of SwitchTraffic/ReverseTraffic: default all three; "primary" = writes.</summary>
    public static IReadOnlyList<string> ParseSwitchTypes(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return ["RDONLY", "REPLICA", "PRIMARY"];
        }

        var types = Names.SplitList(text).Select(t => t.ToUpperInvariant()).Distinct().ToList();
        foreach (var t in types)
        {
            if (t is not ("PRIMARY" or "REPLICA" or "RDONLY"))
            {
                throw new WorkflowValidationException($"--tablet-types '{text}' is invalid: a comma list of PRIMARY, REPLICA, RDONLY.");
            }
        }

        // Reads before writes, as Vitess does when all are switched at once.
        return [.. types.OrderBy(t => t == "PRIMARY" ? 1 : 0)];
    }
}
