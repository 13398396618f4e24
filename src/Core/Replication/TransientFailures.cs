using System.Net.Sockets;
using Durable.MySql;
using Durable.Topology;
using Durable.Topology.Etcd;

namespace Durable.Replication;

/// <summary>
/// The one place that decides, from the exception types the engines throw, whether a failure is worth another
/// attempt. The Streamer's stream runner, VDiff's shard loop and the activities' retry policy all ask it, so a failure
/// is never retried by one part and final in another. Anything not named here is terminal: an unknown exception is a
/// bug or a refusal, and retrying it only repeats the damage and delays the error an operator must see.
/// </summary>
public static class TransientFailures
{
    public static bool IsTransient(Exception e) => e switch
    {
        TerminalReplicationException or StreamRefusedException or InvalidStreamStateException => false,
        BinlogPositionPurgedException => false,
        DuplicateServerIdException => true,
        MySqlException m => !m.IsServerError || m.ErrorNumber is MySqlErrorCode.LockWaitTimeout or MySqlErrorCode.Deadlock or MySqlErrorCode.QueryInterrupted
            or MySqlErrorCode.ConnectionKilled or MySqlErrorCode.ServerShutdown or 1040 /* too many connections */ or 1290 /* read-only during failover */,
        ReplicationException => true,
        IOException or SocketException or TimeoutException => true,
        // Bad input stays bad: a validation error of the topology is final, unlike a lost lock or a missing tablet.
        TopologyValidationException => false,
        TopologyException => true,
        // etcd down or electing a leader: its client says so with this type; the next attempt may find it back.
        EtcdUnavailableException => true,
        _ => false,
    };

    /// <summary>
    /// Why a copy cannot go on right now in a way that waiting can fix (no source tablet to pick, mount unreachable), or
    /// null. Such a copy is not failed: it waits and says why, as the seeds' "No tablet found for streaming".
    /// </summary>
    public static string? WaitingReason(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is NoHealthyTabletException or MountUnreachableException)
            {
                return "No tablet found for streaming: " + x.Message;
            }
        }

        return null;
    }
}
