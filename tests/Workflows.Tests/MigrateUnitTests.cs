using Durable.Topology;

namespace Durable.Workflows.Tests;

public class MigrateSpecTests
{
    private static MoveTablesCreate Migrate(Func<MoveTablesCreate, MoveTablesCreate>? change = null)
    {
        var spec = new MoveTablesCreate
        {
            Kind = "migrate", MountName = "ext1", Workflow = "import", TargetKeyspace = "commerce", SourceKeyspace = "commerce", AllTables = true, TabletTypes = "REPLICA",
        };
        return change is null ? spec : change(spec);
    }

    [Fact]
    public void A_migrate_reads_its_source_through_the_mount_and_may_keep_the_keyspace_name()
    {
        var spec = Migrate();
        spec.Validate();
        Assert.True(spec.IsMigrate);
        Assert.Equal("migrate:commerce.import", spec.InstanceId);
        Assert.Equal("ext1:commerce", spec.SourceRef);
        Assert.Equal("ext1:commerce", spec.SourceKey);
    }

    [Fact]
    public void Cells_travel_with_the_source_reference_and_all_cells_means_none_named()
    {
        Assert.Equal("ext1:commerce;cells=zone1,zone2", Migrate(s => s with { Cells = ["zone2", "zone1"] }).SourceRef);
        Assert.Equal("commerce;cells=zone2", new MoveTablesCreate { SourceKeyspace = "commerce", Cells = ["zone2"] }.SourceRef);
        Assert.Equal("commerce", new MoveTablesCreate { SourceKeyspace = "commerce", AllCells = true }.SourceRef);
        Assert.Equal("movetables:customer.w", new MoveTablesCreate { TargetKeyspace = "customer", Workflow = "w" }.InstanceId);
    }

    [Theory]
    [InlineData("nomount", "Migrate needs --mount-name")]
    [InlineData("badmount", "--mount-name 'ext-1;drop' is invalid")]
    [InlineData("hooks", "Migrate takes no cutover hooks")]
    [InlineData("kind", "Workflow kind 'Reshard' is invalid: MoveTables or Migrate.")]
    [InlineData("cell", "Invalid cell name 'zone-1'")]
    public void Bad_migrate_input_is_refused_naming_the_value(string what, string message)
    {
        var spec = what switch
        {
            "nomount" => Migrate(s => s with { MountName = null }),
            "badmount" => Migrate(s => s with { MountName = "ext-1;drop" }),
            "hooks" => Migrate(s => s with { CutoverHooks = [new CutoverHook { Url = "http://x/" }] }),
            "kind" => Migrate(s => s with { Kind = "Reshard" }),
            _ => Migrate(s => s with { Cells = ["zone-1"] }),
        };
        var e = Assert.Throws<WorkflowValidationException>(spec.Validate);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void MoveTables_between_two_keyspaces_of_this_cluster_still_needs_different_names()
    {
        var spec = new MoveTablesCreate { Workflow = "w", TargetKeyspace = "commerce", SourceKeyspace = "commerce", AllTables = true };
        Assert.Contains("both 'commerce'", Assert.Throws<WorkflowValidationException>(spec.Validate).Message);
        // From an external source of the same keyspace name it is fine.
        (spec with { MountName = "legacy" }).Validate();
    }
}

public class MigrateCommandRuleTests
{
    private static WorkflowState State(bool copied) => new()
    {
        Spec = new MoveTablesCreate { Kind = WorkflowKinds.Migrate, MountName = "ext1", Workflow = "import", TargetKeyspace = "commerce", SourceKeyspace = "commerce", AllTables = true },
        Tables = ["customer"],
        Phase = copied ? Phases.Running : Phases.Copying,
        Copy = [new TableProgress("customer", copied ? 5 : 2, 5, copied)],
    };

    [Theory]
    [InlineData("SwitchTraffic")]
    [InlineData("ReverseTraffic")]
    public void Switching_is_refused_with_the_seeds_reason(string action)
    {
        var e = Assert.Throws<WorkflowStateException>(() => CommandRules.Check(State(true), new WorkflowCommand { Action = action }));
        Assert.Contains($"{action} is not available for Migrate workflow commerce.import", e.Message);
        Assert.Contains("switching traffic is not meaningful", e.Message);
        Assert.Contains("sidecar database, which belongs to that cluster", e.Message);
    }

    [Fact]
    public void Complete_waits_for_the_copy_but_not_for_any_traffic_switch()
    {
        var e = Assert.Throws<WorkflowStateException>(() => CommandRules.Check(State(false), new WorkflowCommand { Action = "Complete" }));
        Assert.Contains("the copy has not finished (customer 2/5)", e.Message);
        CommandRules.Check(State(true), new WorkflowCommand { Action = "Complete" });
        CommandRules.Check(State(false), new WorkflowCommand { Action = "Cancel" });
        var rename = Assert.Throws<WorkflowValidationException>(() => CommandRules.Check(State(true), new WorkflowCommand { Action = "Complete", Cleanup = new CleanupOptions { RenameTables = true } }));
        Assert.Contains("keeps the source tables in place", rename.Message);
    }

    [Fact]
    public void A_copy_that_finds_no_tablet_is_waiting_not_failed()
    {
        Assert.StartsWith("No tablet found for streaming: No healthy REPLICA tablet",
            Durable.Replication.TransientFailures.WaitingReason(new InvalidOperationException("copy", new NoHealthyTabletException("No healthy REPLICA tablet of ext1:commerce/0: x"))));
        Assert.Null(Durable.Replication.TransientFailures.WaitingReason(new InvalidOperationException("duplicate key")));
    }
}

public class KeyspaceReferenceTests
{
    [Theory]
    [InlineData("commerce", null, "commerce", "")]
    [InlineData("ext1:commerce", "ext1", "commerce", "")]
    [InlineData("ext1:commerce;cells=zone1,zone2", "ext1", "commerce", "zone1,zone2")]
    [InlineData("commerce;cells=zone2", null, "commerce", "zone2")]
    public void References_parse_and_print_back(string text, string? mount, string keyspace, string cells)
    {
        var r = KeyspaceReference.Parse(text);
        Assert.Equal(mount, r.Mount);
        Assert.Equal(keyspace, r.Keyspace);
        Assert.Equal(cells, string.Join(",", r.Cells));
        Assert.Equal(text, r.ToString());
        Assert.Equal(text.Contains(':') || text.Contains(';'), KeyspaceReference.IsReference(text));
    }

    [Theory]
    [InlineData("ext1:comm'erce")]
    [InlineData("ext1:commerce;tablets=1")]
    [InlineData("e x:commerce")]
    public void Bad_references_are_refused(string text) =>
        Assert.Throws<TopologyValidationException>(() => KeyspaceReference.Parse(text));

    [Theory]
    [InlineData("/vitess/global", "/vitess")]
    [InlineData("/durable", "/durable")]
    [InlineData("/durable/", "/durable")]
    public void A_mount_root_may_name_the_global_root_as_vitess_does(string topoRoot, string root) =>
        Assert.Equal(root, TopologyStore.MountedRoot(topoRoot));
}
