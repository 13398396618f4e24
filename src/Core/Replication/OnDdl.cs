namespace Durable.Replication;

/// <summary>What the apply loop does with a DDL statement on a streamed table (Vitess on_ddl).</summary>
public enum OnDdl
{
    /// <summary>Skip it; the target keeps its schema.</summary>
    Ignore,

    /// <summary>Stop the stream just before it, so an operator can apply the change and restart.</summary>
    Stop,

    /// <summary>Run it on the target; a failure moves the stream to Error.</summary>
    Exec,

    /// <summary>Run it on the target and carry on when it fails.</summary>
    ExecIgnore,
}
