namespace Durable.Workflows;

/// <summary>A command that is valid in itself but not in the workflow's current state (switch before copy, ...).</summary>
public sealed class WorkflowStateException(string message) : Exception(message);
