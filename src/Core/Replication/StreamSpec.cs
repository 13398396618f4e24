using Durable.Core.Positions;

namespace Durable.Replication;

/// <summary>Everything needed to create one stream.</summary>
public sealed record StreamSpec
{
    public required string Workflow { get; init; }

    public required string SourceKeyspace { get; init; }

    public required string SourceShard { get; init; }

    public required string TargetKeyspace { get; init; }

    public required string TargetShard { get; init; }

    public required string TargetDb { get; init; }

    public required StreamFilter Filter { get; init; }

    /// <summary>Start position; null for a stream that copies first (the copy sets it).</summary>
    public GtidPosition? Position { get; init; }

    public GtidPosition? StopPosition { get; init; }

    public string TabletTypes { get; init; } = "PRIMARY";

    public string Cells { get; init; } = string.Empty;

    public OnDdl OnDdl { get; init; } = OnDdl.Ignore;

    public StreamOptions Options { get; init; } = new();

    public void Validate()
    {
        foreach (var (what, value) in new[] { ("workflow", Workflow), ("source keyspace", SourceKeyspace), ("source shard", SourceShard), ("target keyspace", TargetKeyspace), ("target shard", TargetShard), ("target database", TargetDb) })
        {
            if (string.IsNullOrWhiteSpace(value) || value.Length > 255)
            {
                throw new ArgumentException($"The {what} '{value}' is invalid: 1 to 255 characters.");
            }
        }

        Filter.Validate();
    }
}
