namespace Durable.Workflows;

/// <summary>Input of the create activity: the workflow and the tables pre-flight resolved.</summary>
public sealed record CreateInput(MoveTablesCreate Spec, IReadOnlyList<string> Tables);

/// <summary>Input of the copy-chunk activity: the workflow and the one stream to copy a chunk of.</summary>
public sealed record CopyInput(MoveTablesCreate Spec, StreamRef Stream);
