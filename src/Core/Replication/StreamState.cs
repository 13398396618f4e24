namespace Durable.Replication;

/// <summary>The life of a stream. Frozen is final: a frozen stream (the forward stream after a switch) never runs again.</summary>
public enum StreamState
{
    Init,
    Copying,
    Running,
    Stopped,
    Error,
    Frozen,
}
