using Durable.Topology;

namespace Durable.Workflows.Tests;

/// <summary>
/// MoveTablesCreate.Validate (Durable.Contracts, run by durablectl before it sends) checks the names of the source
/// reference with the rule of Durable.Topology's KeyspaceReference, which it cannot reference: both must refuse the same
/// names with the same words.
/// </summary>
public class SourceReferenceParityTests
{
    [Theory]
    [InlineData("commerce", null, null)]
    [InlineData("commerce", "ext1", "zone1")]
    [InlineData("com-merce", null, null)]
    [InlineData("com-merce", null, "zone-1")]
    [InlineData("commerce", "ext1", "zone-1")]
    [InlineData("commerce", null, "a-b")]
    public void Validate_refuses_a_source_reference_as_the_topology_does(string keyspace, string? mount, string? cell)
    {
        var spec = new MoveTablesCreate
        {
            Workflow = "w", TargetKeyspace = "target", SourceKeyspace = keyspace, MountName = mount, Cells = cell is null ? [] : [cell, "zone1"], AllTables = true,
        };
        string? topology = null;
        try
        {
            _ = KeyspaceReference.Of(keyspace, mount, spec.Cells);
        }
        catch (TopologyValidationException e)
        {
            topology = e.Message;
        }

        var contracts = Record.Exception(spec.Validate);
        Assert.Equal(topology, contracts?.Message);
        Assert.True(contracts is null or WorkflowValidationException);
    }
}
