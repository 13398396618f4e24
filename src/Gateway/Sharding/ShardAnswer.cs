using Durable.MySql;
using Durable.MySql.Protocol;

namespace Durable.Gateway.Sharding;

/// <summary>
/// One shard's whole answer to a statement, read into memory so several shards' answers can be combined: an OK
/// (affected rows, status), an ERR (its packet, relayed as it is), or a text-protocol result set (column definition
/// packets and rows as values; null for SQL NULL).
/// </summary>
internal sealed class ShardAnswer
{
    public string Shard { get; init; } = string.Empty;

    public byte[]? Error { get; private set; }

    public ulong AffectedRows { get; private set; }

    public ushort Warnings { get; private set; }

    public List<byte[]> Columns { get; } = [];

    public List<byte[]?[]> Rows { get; } = [];

    public bool IsResultSet { get; private set; }

    /// <summary>Reads a COM_QUERY answer (one result: a sharded statement is never a multi-statement text).</summary>
    public static async Task<ShardAnswer> ReadAsync(MySqlConnection backend, string shard, CancellationToken ct)
    {
        var answer = new ShardAnswer { Shard = shard };
        var deprecateEof = backend.UsesDeprecateEof();
        var packet = await backend.ReadRawPacketAsync(ct).ConfigureAwait(false);
        var span = packet.Span;
        if (span.Length == 0)
        {
            throw PayloadReader.Malformed("empty response packet");
        }

        if (span[0] == 0x00)
        {
            var ok = OkPacket.Parse(span);
            backend.SetRawStatus(ok.Status);
            answer.AffectedRows = ok.AffectedRows;
            answer.Warnings = ok.Warnings;
            return answer;
        }

        if (span[0] == 0xFF)
        {
            answer.Error = span.ToArray();
            return answer;
        }

        answer.IsResultSet = true;
        var reader = new PayloadReader(span);
        var count = reader.ReadLengthEncodedInt32();
        for (var i = 0; i < count; i++)
        {
            answer.Columns.Add((await backend.ReadRawPacketAsync(ct).ConfigureAwait(false)).ToArray());
        }

        if (!deprecateEof)
        {
            await backend.ReadRawPacketAsync(ct).ConfigureAwait(false);
        }

        while (true)
        {
            packet = await backend.ReadRawPacketAsync(ct).ConfigureAwait(false);
            span = packet.Span;
            if (span.Length > 0 && span[0] == 0xFF)
            {
                answer.Error = span.ToArray();
                return answer;
            }

            if (PacketKind.IsResultSetEnd(span, deprecateEof))
            {
                var (status, warnings) = ResponseRelay.ReadEnd(span, deprecateEof);
                backend.SetRawStatus(status);
                answer.Warnings = warnings;
                return answer;
            }

            answer.Rows.Add(ReadRow(span, count));
        }
    }

    private static byte[]?[] ReadRow(ReadOnlySpan<byte> span, int count)
    {
        var row = new byte[]?[count];
        var reader = new PayloadReader(span);
        for (var i = 0; i < count; i++)
        {
            if (reader.Peek() == 0xFB)
            {
                reader.ReadByte();
                continue;
            }

            row[i] = reader.ReadLengthEncodedBytes().ToArray();
        }

        return row;
    }
}
