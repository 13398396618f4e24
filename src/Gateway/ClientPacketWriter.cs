using System.IO.Pipelines;
using System.Text;
using Durable.MySql.Protocol;

namespace Durable.Gateway;

/// <summary>
/// Writes MySQL packets to a client through its connection's <see cref="PipeWriter"/>: each payload is copied once,
/// straight into the pipe's memory behind a 4-byte header, and sent on <see cref="FlushAsync"/> (at the end of a
/// response, or when <see cref="ShouldFlush"/> says enough is pending so a long result set streams instead of piling up).
/// </summary>
internal sealed class ClientPacketWriter(PipeWriter output)
{
    private const int FlushThreshold = 64 * 1024;
    private readonly PayloadWriter _scratch = new(256);
    private long _pending;

    public PipeWriter Output { get; set; } = output;

    /// <summary>The sequence number the next packet carries (1 for the first packet of a command's response).</summary>
    public byte Sequence { get; set; }

    public bool ShouldFlush => _pending >= FlushThreshold;

    public void WritePacket(ReadOnlySpan<byte> payload)
    {
        while (true)
        {
            var chunk = Math.Min(payload.Length, PacketChannel.MaxPacketPayload);
            var span = Output.GetSpan(chunk + 4);
            span[0] = (byte)chunk;
            span[1] = (byte)(chunk >> 8);
            span[2] = (byte)(chunk >> 16);
            span[3] = Sequence++;
            payload[..chunk].CopyTo(span[4..]);
            Output.Advance(chunk + 4);
            _pending += chunk + 4;
            payload = payload[chunk..];
            if (chunk < PacketChannel.MaxPacketPayload)
            {
                return;
            }
        }
    }

    /// <summary>A scratch payload for packets the gateway builds itself; write it with <see cref="WriteScratch"/>.</summary>
    public PayloadWriter Scratch()
    {
        _scratch.Clear();
        return _scratch;
    }

    public void WriteScratch() => WritePacket(_scratch.Payload);

    /// <summary>Writes the scratch payload (a COM_STMT_PREPARE OK) with the statement id at bytes 1-4 replaced by the gateway's.</summary>
    public void WriteScratchWithId(uint statementId)
    {
        var payload = _scratch.Payload;
        var copy = payload.Length <= 64 ? stackalloc byte[payload.Length] : new byte[payload.Length];
        payload.CopyTo(copy);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(copy[1..], statementId);
        WritePacket(copy);
    }

    public void WriteOk(ServerStatus status, ulong affectedRows = 0, ulong lastInsertId = 0, ushort warnings = 0)
    {
        var w = Scratch();
        w.WriteByte(0x00);
        w.WriteLengthEncoded(affectedRows);
        w.WriteLengthEncoded(lastInsertId);
        w.WriteUInt16((ushort)status);
        w.WriteUInt16(warnings);
        WriteScratch();
    }

    /// <summary>The end of a result set: a classic EOF, or the OK-shaped 0xFE packet under CLIENT_DEPRECATE_EOF.</summary>
    public void WriteEnd(bool deprecateEof, ServerStatus status, ushort warnings = 0)
    {
        var w = Scratch();
        w.WriteByte(0xFE);
        if (deprecateEof)
        {
            w.WriteLengthEncoded(0);
            w.WriteLengthEncoded(0);
        }

        if (deprecateEof)
        {
            w.WriteUInt16((ushort)status);
            w.WriteUInt16(warnings);
        }
        else
        {
            w.WriteUInt16(warnings);
            w.WriteUInt16((ushort)status);
        }

        WriteScratch();
    }

    public void WriteEof(ServerStatus status, ushort warnings = 0)
    {
        var w = Scratch();
        w.WriteByte(0xFE);
        w.WriteUInt16(warnings);
        w.WriteUInt16((ushort)status);
        WriteScratch();
    }

    public void WriteError(int code, string sqlState, string message)
    {
        var w = Scratch();
        w.WriteByte(0xFF);
        w.WriteUInt16((ushort)code);
        w.WriteByte((byte)'#');
        w.WriteString(sqlState.Length == 5 ? sqlState : "HY000");
        w.WriteString(message);
        WriteScratch();
    }

    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        _pending = 0;
        var result = await Output.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (result.IsCanceled || result.IsCompleted)
        {
            throw new IOException("The client closed the connection.");
        }
    }

    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);
}
