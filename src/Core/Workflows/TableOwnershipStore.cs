using Durable.Topology;

namespace Durable.Workflows;

/// <summary>
/// A workflow's <see cref="TableOwnership"/> in etcd, next to its workflow record
/// ({root}/global/workflows/{keyspace}/{workflow}/TableOwnership), so it outlives hosts, redeliveries and ContinueAsNew,
/// and goes with the workflow's records when Complete or Cancel removes them (<see cref="WorkflowRegistry.RemoveAsync"/>).
/// </summary>
public sealed class TableOwnershipStore(WorkflowRegistry registry)
{
    private const string Leaf = "TableOwnership";

    /// <summary>Beside the workflow record (same folder): removed with it.</summary>
    public string Key(string keyspace, string workflow)
    {
        var record = registry.RecordKey(keyspace, workflow);
        return record[..(record.LastIndexOf('/') + 1)] + Leaf;
    }

    /// <summary>The recorded ownership, or null when none was recorded (create never got that far, or cleanup already ran).</summary>
    public async Task<TableOwnership?> GetAsync(string keyspace, string workflow, CancellationToken ct) =>
        (await registry.Store.ReadAsync<TableOwnership>(Key(keyspace, workflow), ct).ConfigureAwait(false))?.Value;

    /// <summary>
    /// Records <paramref name="ownership"/> unless one is recorded already; returns the one that stands. The first record
    /// wins: a concurrent delivery of create that looked after the first one created tables would see them as adopted.
    /// </summary>
    public async Task<TableOwnership> RecordOnceAsync(string keyspace, string workflow, TableOwnership ownership, CancellationToken ct)
    {
        try
        {
            await registry.Store.CreateAsync(Key(keyspace, workflow), ownership, ct: ct).ConfigureAwait(false);
            return ownership;
        }
        catch (TopologyConflictException)
        {
            var standing = await GetAsync(keyspace, workflow, ct).ConfigureAwait(false);
            return standing is not null && standing.InstanceId == ownership.InstanceId
                ? standing
                : throw new WorkflowStateException($"The table ownership of workflow {keyspace}.{workflow} is recorded by another workflow ({standing?.InstanceId ?? "removed meanwhile"}); nothing was created.");
        }
    }
}
