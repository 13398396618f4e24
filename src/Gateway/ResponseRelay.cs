using Durable.MySql;
using Durable.MySql.Protocol;

namespace Durable.Gateway;

/// <summary>What a relayed response ended with.</summary>
internal readonly record struct RelayOutcome(ServerStatus Status, ulong AffectedRows, ulong Rows, int ErrorCode, string? ErrorMessage, string? SqlState = null)
{
    public bool Failed => ErrorCode != 0;
}

/// <summary>
/// Copies a backend's response to the client packet by packet as it arrives (never holding a result set): OK, ERR,
/// or result sets (column count, definitions, rows, end), following MORE_RESULTS through multi-statements. Only
/// the sequence ids change, and the framing where client and backend differ on CLIENT_DEPRECATE_EOF (the EOF after
/// column definitions is dropped or added; the end packet is converted between EOF and its OK-shaped form).
/// </summary>
internal static class ResponseRelay
{
    /// <summary>The write guard's refusal (SIGNAL in the guard trigger).</summary>
    public const int WriteGuardError = 1644;

    /// <param name="holdGuardError">When set, a first-packet ERR 1644 from the write guard is not relayed but returned, for the session to answer itself.</param>
    public static async ValueTask<RelayOutcome> RelayAsync(MySqlConnection backend, ClientPacketWriter client, bool clientDeprecateEof, bool holdGuardError, CancellationToken ct)
    {
        var backendDeprecateEof = backend.UsesDeprecateEof();
        ulong rows = 0;
        ulong affected = 0;
        var first = true;
        while (true)
        {
            var packet = await backend.ReadRawPacketAsync(ct).ConfigureAwait(false);
            var span = packet.Span;
            if (span.Length == 0)
            {
                throw PayloadReader.Malformed("empty response packet");
            }

            switch (span[0])
            {
                case 0x00:
                {
                    var ok = OkPacket.Parse(span);
                    affected += ok.AffectedRows;
                    client.WritePacket(span);
                    backend.SetRawStatus(ok.Status);
                    if ((ok.Status & ServerStatus.MoreResultsExist) != 0)
                    {
                        first = false;
                        continue;
                    }

                    return new RelayOutcome(ok.Status, affected, rows, 0, null);
                }

                case 0xFF:
                {
                    var error = ErrPacket.Parse(span);
                    if (!(first && holdGuardError && error.ErrorNumber == WriteGuardError))
                    {
                        client.WritePacket(span);
                    }

                    return new RelayOutcome(backend.Status, affected, rows, error.ErrorNumber, error.Message, error.SqlState);
                }

                case 0xFB:
                {
                    // LOAD DATA LOCAL INFILE: the gateway does not offer CLIENT_LOCAL_FILES; answer with an empty file
                    // (the server then ends the statement with its OK or ERR).
                    await backend.SendRawContinuationAsync(new PayloadWriter(4), ct).ConfigureAwait(false);
                    first = false;
                    continue;
                }
            }

            first = false;
            var status = await RelayResultSetAsync(backend, client, packet, backendDeprecateEof, clientDeprecateEof, ct).ConfigureAwait(false);
            if (status.Error is { } err)
            {
                return new RelayOutcome(backend.Status, affected, rows + status.Rows, err.ErrorNumber, err.Message);
            }

            rows += status.Rows;
            backend.SetRawStatus(status.Status);
            if ((status.Status & ServerStatus.MoreResultsExist) == 0)
            {
                return new RelayOutcome(status.Status, affected, rows, 0, null);
            }
        }
    }

    private static async ValueTask<(ServerStatus Status, ulong Rows, MySqlException? Error)> RelayResultSetAsync(
        MySqlConnection backend, ClientPacketWriter client, ReadOnlyMemory<byte> header, bool backendDeprecateEof, bool clientDeprecateEof, CancellationToken ct)
    {
        var columns = ColumnCount(header.Span);
        client.WritePacket(header.Span);
        await RelayColumnsAsync(backend, client, columns, backendDeprecateEof, clientDeprecateEof, ct).ConfigureAwait(false);
        ulong rows = 0;
        while (true)
        {
            var packet = await backend.ReadRawPacketAsync(ct).ConfigureAwait(false);
            var span = packet.Span;
            if (span.Length > 0 && span[0] == 0xFF)
            {
                client.WritePacket(span);
                return (backend.Status, rows, ErrPacket.Parse(span));
            }

            if (PacketKind.IsResultSetEnd(span, backendDeprecateEof))
            {
                var (status, warnings) = ReadEnd(span, backendDeprecateEof);
                if (backendDeprecateEof == clientDeprecateEof)
                {
                    client.WritePacket(span);
                }
                else
                {
                    client.WriteEnd(clientDeprecateEof, status, warnings);
                }

                return (status, rows, null);
            }

            client.WritePacket(span);
            rows++;
            if (client.ShouldFlush)
            {
                await client.FlushAsync(ct).ConfigureAwait(false);
            }
        }
    }

    private static int ColumnCount(ReadOnlySpan<byte> header)
    {
        var reader = new PayloadReader(header);
        return reader.ReadLengthEncodedInt32();
    }

    /// <summary>Column (or parameter) definitions and the EOF after them, adjusted to the client's framing.</summary>
    public static async ValueTask RelayColumnsAsync(MySqlConnection backend, ClientPacketWriter? client, int count, bool backendDeprecateEof, bool clientDeprecateEof, CancellationToken ct)
    {
        for (var i = 0; i < count; i++)
        {
            var definition = await backend.ReadRawPacketAsync(ct).ConfigureAwait(false);
            client?.WritePacket(definition.Span);
        }

        if (count == 0)
        {
            return;
        }

        if (!backendDeprecateEof)
        {
            var eof = await backend.ReadRawPacketAsync(ct).ConfigureAwait(false);
            if (!clientDeprecateEof)
            {
                client?.WritePacket(eof.Span);
            }
        }
        else if (!clientDeprecateEof)
        {
            client?.WriteEof(backend.Status);
        }
    }

    /// <summary>Status and warnings of an EOF (0xFE warnings status) or of the OK-shaped end (0xFE affected insert-id status warnings).</summary>
    public static (ServerStatus Status, ushort Warnings) ReadEnd(ReadOnlySpan<byte> span, bool okShaped)
    {
        if (okShaped)
        {
            var ok = OkPacket.Parse(span);
            return (ok.Status, ok.Warnings);
        }

        var r = new PayloadReader(span);
        r.ReadByte();
        var warnings = r.Remaining >= 2 ? r.ReadUInt16() : (ushort)0;
        var status = r.Remaining >= 2 ? (ServerStatus)r.ReadUInt16() : ServerStatus.None;
        return (status, warnings);
    }

    /// <summary>
    /// COM_FIELD_LIST's answer: column definitions up to an EOF (or ERR), relayed with the end packet in the client's framing.
    /// </summary>
    public static async ValueTask RelayFieldListAsync(MySqlConnection backend, ClientPacketWriter client, bool clientDeprecateEof, CancellationToken ct)
    {
        var backendDeprecateEof = backend.UsesDeprecateEof();
        while (true)
        {
            var packet = await backend.ReadRawPacketAsync(ct).ConfigureAwait(false);
            var span = packet.Span;
            if (span.Length > 0 && span[0] == 0xFF)
            {
                client.WritePacket(span);
                return;
            }

            if (span.Length > 0 && span[0] == 0xFE && span.Length < 0xFFFFFF)
            {
                var (status, warnings) = ReadEnd(span, backendDeprecateEof && span.Length >= 7);
                client.WriteEnd(clientDeprecateEof, status, warnings);
                return;
            }

            client.WritePacket(span);
        }
    }
}
