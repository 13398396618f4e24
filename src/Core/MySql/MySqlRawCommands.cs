using Durable.MySql.Protocol;

namespace Durable.MySql;

/// <summary>
/// A raw command API for a proxy (the gateway): send a command payload as the client built it, then read the response
/// packets one by one, each a slice of the connection's read buffer (valid until the next read), so a relay copies a
/// packet once, into its client's output. The caller owns the framing of the response and must read it to its end
/// before the next command; it reports the final status flags back with <see cref="SetRawStatus"/> so
/// <see cref="MySqlConnection.Status"/> (transaction state, NO_BACKSLASH_ESCAPES) stays right. No command timeout or
/// KILL QUERY here: the relay's client decides how long it waits.
/// </summary>
public static class MySqlRawCommands
{
    /// <summary>Sends <paramref name="payload"/> (command byte first) as a new command: sequence 0.</summary>
    public static ValueTask SendRawCommandAsync(this MySqlConnection connection, PayloadWriter payload, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (!connection.IsUsable)
        {
            throw MySqlException.Client(MySqlErrorCode.ServerGone, $"The connection to {connection.Options} is broken by an earlier error; open a new one.");
        }

        connection.Channel.ResetSequence();
        return connection.Channel.WriteAsync(payload, cancellationToken);
    }

    /// <summary>
    /// Sends a further packet of the same command (e.g. an auth or LOCAL INFILE reply), continuing the sequence.
    /// </summary>
    public static ValueTask SendRawContinuationAsync(this MySqlConnection connection, PayloadWriter payload, CancellationToken cancellationToken) =>
        connection.Channel.WriteAsync(payload, cancellationToken);

    /// <summary>Reads the next response packet's payload (16 MiB+ payloads joined); valid until the next read.</summary>
    public static ValueTask<ReadOnlyMemory<byte>> ReadRawPacketAsync(this MySqlConnection connection, CancellationToken cancellationToken) =>
        connection.Channel.ReadPayloadAsync(cancellationToken);

    /// <summary>Records the status flags of the OK/EOF packet that ended a raw command's response.</summary>
    public static void SetRawStatus(this MySqlConnection connection, ServerStatus status) => connection.SetStatus(status);

    /// <summary>True when the session negotiated CLIENT_DEPRECATE_EOF (result sets end with an OK-shaped 0xFE packet, column definitions with none).</summary>
    public static bool UsesDeprecateEof(this MySqlConnection connection) => connection.DeprecateEof;

    /// <summary>
    /// The sequence number the next packet read must carry. A relay that pipelines two commands (e.g. a deferred
    /// BEGIN and the statement after it) reads the first response, then sets it back to what the second command's
    /// response starts with.
    /// </summary>
    public static byte GetRawSequence(this MySqlConnection connection) => connection.Channel.Sequence;

    public static void SetRawSequence(this MySqlConnection connection, byte sequence) => connection.Channel.Sequence = sequence;

    /// <summary>Whether a read or write failed mid-packet (the connection must be dropped).</summary>
    public static bool IsBroken(this MySqlConnection connection) => connection.Channel.IsBroken;
}
