using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace Durable.Contracts;

/// <summary>Bad input to a MoveTables command: the message names the bad value and what would be valid.</summary>
public sealed class WorkflowValidationException(string message) : Exception(message);

/// <summary>How inserts into a sharded target get auto-increment values until sequences exist.</summary>
public enum ShardedAutoIncrementHandling
{
    /// <summary>Keep MySQL auto_increment on every target shard: each shard counts on its own, so ids collide across shards.</summary>
    Leave,

    /// <summary>Drop auto_increment from the target tables: inserts must supply the id (until a sequence exists).</summary>
    Remove,

    /// <summary>
    /// Drop auto_increment from the target tables and replace it with a Vitess sequence: a table <c>&lt;table&gt;_seq</c>
    /// in the unsharded <see cref="MoveTablesCreate.GlobalKeyspace"/>, named in the target VSchema's
    /// <c>auto_increment</c>, from which the gateway fills absent ids.
    /// </summary>
    Replace,
}

/// <summary>A cutover hook: called inside the write-denied window of a switch with the new routing; a failure rolls the switch back.</summary>
public sealed record CutoverHook
{
    /// <summary>POST the switch description (JSON) here; any non-2xx answer fails the hook.</summary>
    [JsonPropertyName("url")]
    public string? Url { get; init; }

    /// <summary>Run this program (no shell) with the switch description on stdin; a non-zero exit fails the hook.</summary>
    [JsonPropertyName("command")]
    public IReadOnlyList<string>? Command { get; init; }

    [JsonPropertyName("timeout_seconds")]
    public int TimeoutSeconds { get; init; } = 10;

    public void Validate()
    {
        if ((Url is null) == (Command is null or { Count: 0 }))
        {
            throw new WorkflowValidationException("A cutover hook needs exactly one of \"url\" (HTTP webhook) or \"command\" (program and arguments).");
        }

        if (Url is not null && (!Uri.TryCreate(Url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
        {
            throw new WorkflowValidationException($"Cutover hook url '{Url}' is invalid: use an absolute http:// or https:// URL.");
        }

        if (TimeoutSeconds is < 1 or > 300)
        {
            throw new WorkflowValidationException($"Cutover hook timeout_seconds {TimeoutSeconds} is invalid: 1 to 300.");
        }
    }
}

/// <summary>Per workflow: whether SwitchTraffic and Complete wait for a signed approval, and who may give it.</summary>
public sealed record ApprovalPolicy
{
    /// <summary>False: commands run at once (automatic approval).</summary>
    [JsonPropertyName("required")]
    public bool Required { get; init; }

    /// <summary>The approvers whose signed approvals count (names known to the host's approver key configuration).</summary>
    [JsonPropertyName("approvers")]
    public IReadOnlyList<string> Approvers { get; init; } = [];

    /// <summary>How long a command waits for its approval before it is dropped (null: indefinitely).</summary>
    [JsonPropertyName("expiry_seconds")]
    public int? ExpirySeconds { get; init; }

    public void Validate()
    {
        if (Required && Approvers.Count == 0)
        {
            throw new WorkflowValidationException("Approvals are required but no approvers are named: give at least one approver.");
        }

        foreach (var a in Approvers)
        {
            if (!Names.IsSimpleName(a))
            {
                throw new WorkflowValidationException($"Approver '{a}' is invalid: use letters, digits, '_', '-', '.' and '@' (1 to 64).");
            }
        }

        if (ExpirySeconds is <= 0)
        {
            throw new WorkflowValidationException($"Approval expiry {ExpirySeconds}s is invalid: a positive number of seconds.");
        }
    }
}

/// <summary>The two workflow kinds one orchestration runs: MoveTables (within this cluster) and Migrate (from a mount).</summary>
public static class WorkflowKinds
{
    public const string MoveTables = "MoveTables";
    public const string Migrate = "Migrate";

    public static string Normalize(string? kind) => kind?.Trim() switch
    {
        null or "" => MoveTables,
        var k when string.Equals(k, MoveTables, StringComparison.OrdinalIgnoreCase) => MoveTables,
        var k when string.Equals(k, Migrate, StringComparison.OrdinalIgnoreCase) => Migrate,
        _ => throw new WorkflowValidationException($"Workflow kind '{kind}' is invalid: {MoveTables} or {Migrate}."),
    };
}

/// <summary>
/// <c>MoveTables --workflow W --target-keyspace K create</c> with the seeds' flags (and, with <see cref="Kind"/>
/// Migrate, <c>Migrate ... create --mount-name M</c>: the same lifecycle without routing rules or traffic switching). Immutable after create; it is the
/// orchestration's input and part of its durable state.
/// </summary>
public sealed record MoveTablesCreate
{
    [JsonPropertyName("workflow")] public string Workflow { get; init; } = "";
    [JsonPropertyName("target_keyspace")] public string TargetKeyspace { get; init; } = "";
    [JsonPropertyName("source_keyspace")] public string SourceKeyspace { get; init; } = "";
    [JsonPropertyName("tables")] public IReadOnlyList<string> Tables { get; init; } = [];
    [JsonPropertyName("all_tables")] public bool AllTables { get; init; }
    [JsonPropertyName("exclude_tables")] public IReadOnlyList<string> ExcludeTables { get; init; } = [];
    [JsonPropertyName("tablet_types")] public string TabletTypes { get; init; } = "in_order:REPLICA,PRIMARY";
    [JsonPropertyName("cells")] public IReadOnlyList<string> Cells { get; init; } = [];
    [JsonPropertyName("all_cells")] public bool AllCells { get; init; }
    [JsonPropertyName("on_ddl")] public string OnDdl { get; init; } = "IGNORE";
    [JsonPropertyName("defer_secondary_keys")] public bool DeferSecondaryKeys { get; init; }
    [JsonPropertyName("stop_after_copy")] public bool StopAfterCopy { get; init; }
    [JsonPropertyName("auto_start")] public bool AutoStart { get; init; } = true;
    [JsonPropertyName("no_routing_rules")] public bool NoRoutingRules { get; init; }
    [JsonPropertyName("source_time_zone")] public string? SourceTimeZone { get; init; }
    [JsonPropertyName("sharded_auto_increment_handling")] public string ShardedAutoIncrementHandling { get; init; } = "REMOVE";

    /// <summary>
    /// With --sharded-auto-increment-handling REPLACE: the existing unsharded keyspace the sequence tables are created
    /// in. Not written when null, so creates from before the option compare equal.
    /// </summary>
    [JsonPropertyName("global_keyspace")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? GlobalKeyspace { get; init; }
    [JsonPropertyName("approvals")] public ApprovalPolicy Approvals { get; init; } = new();
    [JsonPropertyName("cutover_hooks")] public IReadOnlyList<CutoverHook> CutoverHooks { get; init; } = [];

    /// <summary>
    /// How often VDiff re-runs while the workflow waits (a duration such as 30m or 1h, or "off"); null takes the host's
    /// default (DURABLE_VDIFF_INTERVAL). Not written when null, so creates from before the option compare equal.
    /// </summary>
    [JsonPropertyName("vdiff_interval")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? VDiffInterval { get; init; }

    /// <summary>MoveTables (default) or Migrate.</summary>
    [JsonPropertyName("kind")] public string Kind { get; init; } = WorkflowKinds.MoveTables;

    /// <summary>The mount the source keyspace is read through (Migrate: required; MoveTables: an unmanaged source).</summary>
    [JsonPropertyName("mount_name")] public string? MountName { get; init; }

    [JsonIgnore] public bool IsMigrate => WorkflowKinds.Normalize(Kind) == WorkflowKinds.Migrate;

    /// <summary>Who asked for the create (for the audit trail).</summary>
    [JsonPropertyName("requested_by")] public string RequestedBy { get; init; } = "unknown";

    [JsonIgnore] public string InstanceId => Names.InstanceId(TargetKeyspace, Workflow, Kind);

    [JsonIgnore] public string ReverseWorkflow => Workflow + "_reverse";

    public ShardedAutoIncrementHandling AutoIncrementHandling() =>
        ShardedAutoIncrementHandling.Trim().ToUpperInvariant() switch
        {
            "LEAVE" => Contracts.ShardedAutoIncrementHandling.Leave,
            "REMOVE" => Contracts.ShardedAutoIncrementHandling.Remove,
            "REPLACE" => Contracts.ShardedAutoIncrementHandling.Replace,
            _ => throw new WorkflowValidationException(
                $"--sharded-auto-increment-handling '{ShardedAutoIncrementHandling}' is invalid: LEAVE, REMOVE or REPLACE."),
        };

    /// <summary>
    /// REPLACE needs --global-keyspace (a valid keyspace name other than the source and target); the option means
    /// nothing without REPLACE. Whether the keyspace exists and is unsharded is checked by pre-flight.
    /// </summary>
    private void CheckGlobalKeyspace()
    {
        var replace = AutoIncrementHandling() == Contracts.ShardedAutoIncrementHandling.Replace;
        if (replace && string.IsNullOrWhiteSpace(GlobalKeyspace))
        {
            throw new WorkflowValidationException(
                "--sharded-auto-increment-handling REPLACE needs --global-keyspace: the existing unsharded keyspace the sequence tables (<table>_seq) are created in.");
        }

        if (!replace && GlobalKeyspace is not null)
        {
            throw new WorkflowValidationException(
                $"--global-keyspace '{GlobalKeyspace}' only goes with --sharded-auto-increment-handling REPLACE (it names where the sequence tables are created); this create asks for {ShardedAutoIncrementHandling.Trim().ToUpperInvariant()}.");
        }

        if (GlobalKeyspace is not null)
        {
            Names.CheckKeyspace("--global-keyspace", GlobalKeyspace);
            if (string.Equals(GlobalKeyspace, TargetKeyspace, StringComparison.Ordinal))
            {
                throw new WorkflowValidationException(
                    $"--global-keyspace '{GlobalKeyspace}' is the target keyspace: sequences live in an unsharded keyspace, and REPLACE is for a sharded target. Name an existing unsharded keyspace such as the source.");
            }
        }
    }

    /// <summary>Checks everything that can be checked without the cluster; throws on the first problem.</summary>
    public void Validate()
    {
        Names.CheckWorkflow(Workflow);
        Names.CheckKeyspace("--target-keyspace", TargetKeyspace);
        Names.CheckKeyspace("--source-keyspace", SourceKeyspace);
        var kind = WorkflowKinds.Normalize(Kind);
        if (MountName is not null)
        {
            Names.CheckMount(MountName);
        }

        if (kind == WorkflowKinds.Migrate)
        {
            if (MountName is null)
            {
                throw new WorkflowValidationException("Migrate needs --mount-name: the mounted cluster (durablectl Mount register) or external source (durablectl RegisterExternalSource) the source keyspace is in.");
            }

            if (CutoverHooks.Count > 0)
            {
                throw new WorkflowValidationException("Migrate takes no cutover hooks: it never switches traffic (the source is another cluster).");
            }
        }

        // Keyspaces of a mount are another cluster's: the same name on both sides is the normal Migrate case.
        if (MountName is null && string.Equals(SourceKeyspace, TargetKeyspace, StringComparison.Ordinal))
        {
            throw new WorkflowValidationException($"--source-keyspace and --target-keyspace are both '{SourceKeyspace}': MoveTables moves tables between two keyspaces.");
        }

        if (AllTables == (Tables.Count > 0))
        {
            throw new WorkflowValidationException("Give exactly one of --tables 'a,b' or --all-tables.");
        }

        if (!AllTables && ExcludeTables.Count > 0)
        {
            throw new WorkflowValidationException("--exclude-tables only goes with --all-tables.");
        }

        foreach (var t in Tables.Concat(ExcludeTables))
        {
            Names.CheckTable(t);
        }

        if (Tables.Distinct(StringComparer.OrdinalIgnoreCase).Count() != Tables.Count)
        {
            throw new WorkflowValidationException($"--tables lists a table twice: {string.Join(",", Tables)}.");
        }

        SourceTabletTypes.Parse(TabletTypes);
        if (AllCells && Cells.Count > 0)
        {
            throw new WorkflowValidationException("Give --cells or --all-cells, not both.");
        }

        foreach (var cell in Cells)
        {
            Names.CheckKeyspace("--cells", cell);
        }

        if (OnDdl.Trim().ToUpperInvariant() is not ("IGNORE" or "STOP" or "EXEC" or "EXEC_IGNORE"))
        {
            throw new WorkflowValidationException($"--on-ddl '{OnDdl}' is invalid: IGNORE, STOP, EXEC or EXEC_IGNORE.");
        }

        if (SourceTimeZone is not null && (SourceTimeZone.Length is 0 or > 64 || SourceTimeZone.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '/' or '_' or '-' or '+' or ':'))))
        {
            throw new WorkflowValidationException($"--source-time-zone '{SourceTimeZone}' is invalid: a time zone name such as US/Pacific or an offset such as +05:30.");
        }

        CheckSourceReference();
        CheckGlobalKeyspace();
        if (VDiffInterval is not null)
        {
            if (IsMigrate)
            {
                throw new WorkflowValidationException("--vdiff-interval is not an option of Migrate: a Migrate runs VDiff when you ask for it (durablectl VDiff ... create), not on a schedule.");
            }

            _ = VDiffIntervals.Parse(VDiffInterval);
        }

        Approvals.Validate();
        foreach (var hook in CutoverHooks)
        {
            hook.Validate();
        }
    }

    /// <summary>
    /// The source keyspace, the mount and (without --all-cells) the cells become the engine's source reference
    /// (<c>[mount:]keyspace[;cells=...]</c>, Durable.Topology.KeyspaceReference): etcd key segments and SQL identifiers,
    /// so no '-', which <see cref="Names.CheckKeyspace"/> allows. The rule and words of Durable.Topology's
    /// TabletTypes.ValidateName, in its order (mount, keyspace, cells sorted); the engine checks again when it builds the reference.
    /// </summary>
    private void CheckSourceReference()
    {
        if (!string.IsNullOrEmpty(MountName))
        {
            Names.CheckReferenceName("mount", MountName);
        }

        Names.CheckReferenceName("keyspace", SourceKeyspace);
        if (!AllCells)
        {
            foreach (var cell in Cells.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
            {
                Names.CheckReferenceName("cell", cell);
            }
        }
    }
}

/// <summary>
/// How often VDiff re-runs while a workflow waits for SwitchTraffic/Complete: "off" or a duration (30m, 1h), as
/// <c>--vdiff-interval</c>, the VDiffSchedule command and the host's DURABLE_VDIFF_INTERVAL give it.
/// </summary>
public static class VDiffIntervals
{
    /// <summary>The interval <paramref name="text"/> asks for: null for "off".</summary>
    public static TimeSpan? Parse(string? text)
    {
        if (string.Equals(text?.Trim(), "off", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        try
        {
            return GoDuration.Parse("--vdiff-interval", text ?? "");
        }
        catch (ArgumentException e)
        {
            throw new WorkflowValidationException(e.Message.Replace("a duration such as", "off, or a duration such as", StringComparison.Ordinal));
        }
    }
}

/// <summary>Source tablet types as vtctldclient takes them: "in_order:REPLICA,PRIMARY", "PRIMARY", "replica,rdonly".</summary>
public static class SourceTabletTypes
{
    public static (bool InOrder, IReadOnlyList<string> Types) Parse(string text)
    {
        var value = text.Trim();
        var inOrder = value.StartsWith("in_order:", StringComparison.OrdinalIgnoreCase);
        if (inOrder)
        {
            value = value["in_order:".Length..];
        }

        var types = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(t => t.ToUpperInvariant()).ToList();
        if (types.Count == 0 || types.Any(t => t is not ("PRIMARY" or "REPLICA" or "RDONLY")))
        {
            throw new WorkflowValidationException($"--tablet-types '{text}' is invalid: a comma list of PRIMARY, REPLICA, RDONLY, optionally prefixed with in_order:.");
        }

        return (inOrder, types);
    }
}

public static partial class Names
{
    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex KeyspaceRegex();

    [GeneratedRegex("^[A-Za-z0-9_]{1,58}$")]
    private static partial Regex WorkflowRegex();

    [GeneratedRegex("^[A-Za-z0-9_$]{1,64}$")]
    private static partial Regex TableRegex();

    [GeneratedRegex("^[A-Za-z0-9_.@-]{1,64}$")]
    private static partial Regex SimpleRegex();

    [GeneratedRegex("^[a-zA-Z0-9_]+$")]
    private static partial Regex ReferenceNameRegex();

    /// <summary>The orchestration instance of a workflow: one per target keyspace and workflow name.</summary>
    public static string InstanceId(string targetKeyspace, string workflow) => $"movetables:{targetKeyspace}.{workflow}";

    /// <summary>The instance of a workflow of the given kind (<c>migrate:K.W</c> for Migrate).</summary>
    public static string InstanceId(string targetKeyspace, string workflow, string? kind) =>
        WorkflowKinds.Normalize(kind) == WorkflowKinds.Migrate ? $"migrate:{targetKeyspace}.{workflow}" : InstanceId(targetKeyspace, workflow);

    public static void CheckMount(string mount)
    {
        if (!System.Text.RegularExpressions.Regex.IsMatch(mount ?? "", "^[A-Za-z0-9_]{1,64}$"))
        {
            throw new WorkflowValidationException($"--mount-name '{mount}' is invalid: the name of a registered mount (letters, digits and '_', 1 to 64 characters).");
        }
    }

    public static bool IsSimpleName(string name) => SimpleRegex().IsMatch(name);

    public static void CheckWorkflow(string workflow)
    {
        if (!WorkflowRegex().IsMatch(workflow ?? ""))
        {
            throw new WorkflowValidationException($"Workflow name '{workflow}' is invalid: use letters, digits and '_' (1 to 58 characters; '_reverse' is added for the reverse workflow).");
        }

        if (workflow!.EndsWith("_reverse", StringComparison.Ordinal))
        {
            throw new WorkflowValidationException($"Workflow name '{workflow}' is invalid: names ending in _reverse are kept for reverse workflows.");
        }
    }

    public static void CheckKeyspace(string what, string keyspace)
    {
        if (!KeyspaceRegex().IsMatch(keyspace ?? ""))
        {
            throw new WorkflowValidationException($"{what} '{keyspace}' is invalid: use letters, digits, '_' and '-' (1 to 64 characters).");
        }
    }

    /// <summary>
    /// Table names are restricted to the plain identifier characters: they end up in trigger names, routing rules
    /// ("ks.t@replica") and messages, and a name with quotes or dots would be ambiguous there even when quoted in SQL.
    /// </summary>
    public static void CheckTable(string table)
    {
        if (!TableRegex().IsMatch(table ?? ""))
        {
            throw new WorkflowValidationException($"Table name '{table}' is invalid: use letters, digits, '_' and '$' (1 to 64 characters).");
        }
    }

    /// <summary>A name in a keyspace reference (mount, keyspace, cell): Durable.Topology's TabletTypes.ValidateName, its words.</summary>
    internal static void CheckReferenceName(string what, string name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 64 || !ReferenceNameRegex().IsMatch(name))
        {
            throw new WorkflowValidationException($"Invalid {what} name '{name}': use 1-64 letters, digits or underscores.");
        }
    }

    public static IReadOnlyList<string> SplitList(string? text) =>
        string.IsNullOrWhiteSpace(text) ? [] : text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
