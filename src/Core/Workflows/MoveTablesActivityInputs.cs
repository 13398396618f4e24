using Durable.Replication;

namespace Durable.Workflows;

/// <summary>Input of the create activity: the workflow and the tables pre-flight resolved.</summary>
public sealed record CreateInput(MoveTablesCreate Spec, IReadOnlyList<string> Tables);

/// <summary>Input of the copy-chunk activity: the workflow and the one stream to copy a chunk of.</summary>
public sealed record CopyInput(MoveTablesCreate Spec, StreamRef Stream)
{
    /// <summary>The input for one stream as its sidecar record describes it: for tools that drive a stream's copy without a workflow.</summary>
    public static CopyInput ForStream(StreamRecord record) => new(
        new MoveTablesCreate
        {
            Workflow = record.Workflow,
            SourceKeyspace = record.SourceKeyspace,
            TargetKeyspace = record.TargetKeyspace,
            Tables = record.Filter.Rules.Select(r => r.Table).ToList(),
        },
        new StreamRef(record.TargetKeyspace, record.TargetShard, record.Id, record.SourceShard));
}
