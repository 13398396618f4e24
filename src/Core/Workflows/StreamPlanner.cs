using Durable.Core.Positions;
using Durable.Replication;
using Durable.Topology;

namespace Durable.Workflows;

/// <summary>
/// The streams of a workflow between two keyspaces: their specs (pre-flight checks them, create creates them, the write
/// switch builds the reverse ones) and whether a spec's source can be read now.
/// </summary>
public sealed class StreamPlanner(TopologyStore store, ReplicationEngine engine)
{
    /// <summary>One stream spec per (source shard, target shard); a sharded target filters rows by its primary vindex.</summary>
    public async Task<IReadOnlyList<StreamSpec>> SpecsAsync(MoveTablesCreate spec, string workflow, string fromKs, string toKs, IReadOnlyList<string> tables,
        IReadOnlyList<string> fromShards, IReadOnlyList<string> toShards, IReadOnlyDictionary<string, string>? positions, CancellationToken ct)
    {
        var toKeyspace = (await store.GetKeyspaceAsync(toKs, ct).ConfigureAwait(false))?.Value
                         ?? throw new WorkflowValidationException($"Keyspace '{toKs}' does not exist.");
        VSchemaDocument? vschema = null;
        if (toKeyspace.Sharded)
        {
            var json = await store.GetVSchemaJsonAsync(toKs, ct).ConfigureAwait(false)
                       ?? throw new WorkflowValidationException($"Keyspace '{toKs}' is sharded but has no VSchema: apply one naming a primary vindex for {string.Join(", ", tables)}.");
            vschema = VSchemaDocument.Parse(json.Value);
        }

        var specs = new List<StreamSpec>();
        foreach (var toShard in toShards)
        {
            var primary = await engine.Connector.Resolver.PrimaryAsync(toKs, toShard, ct).ConfigureAwait(false);
            foreach (var fromShard in fromShards)
            {
                var rules = tables.Select(t =>
                {
                    if (vschema is null)
                    {
                        return new TableRule(t);
                    }

                    if (!vschema.Tables.TryGetValue(t, out var vt))
                    {
                        // The seeds' words, and their fix.
                        throw new WorkflowValidationException(
                            $"table {t} not found in vschema for keyspace {toKs}: the target keyspace's VSchema does not match the source's. " +
                            $"Apply the source VSchema to the target (durablectl ApplyVSchema --vschema-file source_vschema.json {toKs}) and run create again.");
                    }

                    if (vt.ColumnVindexes.Count == 0)
                    {
                        throw new WorkflowValidationException($"Table '{t}' has no primary vindex in the VSchema of sharded keyspace {toKs}; add one before moving it there.");
                    }

                    var cv = vt.ColumnVindexes[0];
                    return new TableRule(t, new KeyRangeFilter(vschema.Vindexes[cv.Name].Type, cv.Columns, toShard));
                }).ToList();
                specs.Add(new StreamSpec
                {
                    Workflow = workflow,
                    SourceKeyspace = fromKs,
                    SourceShard = fromShard,
                    TargetKeyspace = toKs,
                    TargetShard = toShard,
                    TargetDb = primary.DbName,
                    Filter = new StreamFilter(rules),
                    Position = positions is not null && positions.TryGetValue(fromShard, out var p) ? GtidPosition.Decode(p) : null,
                    TabletTypes = positions is null ? spec.TabletTypes : "PRIMARY",
                    Cells = string.Join(",", spec.Cells),
                    OnDdl = StreamStates.ParseOnDdl(spec.OnDdl),
                    Options = new StreamOptions
                    {
                        DeferSecondaryKeys = spec.DeferSecondaryKeys && positions is null,
                        StopAfterCopy = spec.StopAfterCopy && positions is null,
                        SourceTimeZone = positions is null ? spec.SourceTimeZone : null,
                    },
                });
            }
        }

        return specs;
    }

    /// <summary>Whether a tablet of the spec's types is reachable now to stream from.</summary>
    public async Task<bool> HasSourceTabletAsync(StreamSpec spec, CancellationToken ct)
    {
        try
        {
            await engine.Connector.Resolver.SourceAsync(spec.SourceKeyspace, spec.SourceShard, spec.TabletTypes, [], ct).ConfigureAwait(false);
            return true;
        }
        catch (NoHealthyTabletException)
        {
            return false;
        }
    }
}
