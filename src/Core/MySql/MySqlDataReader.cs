using Durable.MySql.Protocol;

namespace Durable.MySql;

/// <summary>
/// A text-protocol result set read one row at a time straight from the connection's buffer: memory stays flat no
/// matter how many rows the statement returns. Values of the current row are <see cref="MySqlValue"/>s that are valid
/// until the next <see cref="ReadAsync"/>. Disposing the reader reads (and drops) any rows left, which frees the
/// connection for the next command.
/// </summary>
public sealed class MySqlDataReader : IAsyncDisposable
{
    private readonly MySqlConnection _connection;
    private readonly CommandGuard _guard;
    private MySqlColumn[] _columns = [];
    private int[] _offsets = [];
    private int[] _lengths = [];
    private ReadOnlyMemory<byte> _row;
    private bool _done;
    private bool _hasRow;
    private bool _disposed;

    private readonly bool _binaryRows;
    private MySqlValue[] _binaryValues = [];

    internal MySqlDataReader(MySqlConnection connection, CommandGuard guard, bool binaryRows = false)
    {
        _connection = connection;
        _guard = guard;
        _binaryRows = binaryRows;
    }

    /// <summary>The one file a LOAD DATA LOCAL INFILE statement may ask for, and its content.</summary>
    internal (string Name, ReadOnlyMemory<byte> Content, int MaxPacket)? LocalInfile { get; init; }

    public IReadOnlyList<MySqlColumn> Columns => _columns;

    public int FieldCount => _columns.Length;

    /// <summary>The OK packet that ended the statement (affected rows, last insert id); valid once all rows were read.</summary>
    public OkPacket Completion { get; private set; }

    public bool HasRows => _columns.Length > 0;

    /// <summary>
    /// Answers the server's LOCAL INFILE request (0xFB + file name): the offered content when the name is the one the
    /// statement gave, else an empty file and an error. Returns the server's response to the upload.
    /// </summary>
    private async ValueTask<ReadOnlyMemory<byte>> SendLocalInfileAsync(ReadOnlyMemory<byte> request)
    {
        var requested = System.Text.Encoding.UTF8.GetString(request.Span[1..]);
        var channel = _connection.Channel;
        if (LocalInfile is not { } offered || !string.Equals(requested, offered.Name, StringComparison.Ordinal))
        {
            // An empty packet ends the (empty) upload; the connection stays usable. A server asking for a file the
            // client did not offer is either a bug in the statement or a hostile server: never read a local file.
            await channel.WriteRawAsync(ReadOnlyMemory<byte>.Empty, _guard.IoToken).ConfigureAwait(false);
            var answer = await channel.ReadPayloadAsync(_guard.IoToken).ConfigureAwait(false);
            if (PacketKind.IsErr(answer.Span))
            {
                throw ErrPacket.Parse(answer.Span);
            }

            throw MySqlException.Client(MySqlErrorCode.MalformedPacket,
                $"The server asked for local file '{requested}', which this command did not offer{(LocalInfile is { } o ? $" (it offered '{o.Name}')" : "")}; nothing was sent.");
        }

        var content = offered.Content;
        while (content.Length > 0)
        {
            // The upload may be cut anywhere; each packet stays under the protocol's 16 MiB and the caller's limit.
            var part = content[..Math.Min(content.Length, Math.Min(offered.MaxPacket, PacketChannel.MaxPacketPayload - 1))];
            await channel.WriteRawAsync(part, _guard.IoToken).ConfigureAwait(false);
            content = content[part.Length..];
        }

        await channel.WriteRawAsync(ReadOnlyMemory<byte>.Empty, _guard.IoToken).ConfigureAwait(false);
        return await channel.ReadPayloadAsync(_guard.IoToken).ConfigureAwait(false);
    }

    internal async ValueTask ReadResultHeaderAsync()
    {
        var payload = await _connection.Channel.ReadPayloadAsync(_guard.IoToken).ConfigureAwait(false);
        if (payload.Length > 0 && payload.Span[0] == 0xFB)
        {
            payload = await SendLocalInfileAsync(payload).ConfigureAwait(false);
        }

        var span = payload.Span;
        if (span.Length == 0)
        {
            throw PayloadReader.Malformed("empty response to a query");
        }

        switch (span[0])
        {
            case 0x00:
                Completion = OkPacket.Parse(span);
                _connection.SetStatus(Completion.Status);
                await FinishStatementAsync().ConfigureAwait(false);
                return;
            case 0xFF:
                throw ErrPacket.Parse(span);
        }

        var r = new PayloadReader(span);
        var count = r.ReadLengthEncodedInt32();
        if (count is <= 0 or > 4096)
        {
            throw PayloadReader.Malformed($"result set with {count} columns");
        }

        var columns = new MySqlColumn[count];
        for (var i = 0; i < count; i++)
        {
            var def = await _connection.Channel.ReadPayloadAsync(_guard.IoToken).ConfigureAwait(false);
            if (PacketKind.IsErr(def.Span))
            {
                throw ErrPacket.Parse(def.Span);
            }

            columns[i] = MySqlColumn.Parse(def.Span);
        }

        if (!_connection.DeprecateEof)
        {
            var eof = await _connection.Channel.ReadPayloadAsync(_guard.IoToken).ConfigureAwait(false);
            if (!PacketKind.IsEof(eof.Span))
            {
                throw PayloadReader.Malformed("expected EOF after the column definitions");
            }
        }

        _columns = columns;
        _offsets = new int[count];
        _lengths = new int[count];
        _binaryValues = _binaryRows ? new MySqlValue[count] : [];
    }

    /// <summary>Advances to the next row; false at the end of the result set.</summary>
    public async ValueTask<bool> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (_done)
        {
            return false;
        }

        ObjectDisposedException.ThrowIf(_disposed, this);
        ReadOnlyMemory<byte> payload;
        try
        {
            // Row reads use the command's I/O token; the caller's token cancels the statement through the guard (KILL QUERY).
            var pending = _connection.Channel.ReadPayloadAsync(_guard.IoToken);
            payload = pending.IsCompletedSuccessfully ? pending.Result : await pending.ConfigureAwait(false);
            var span = payload.Span;
            if (span.Length == 0)
            {
                throw PayloadReader.Malformed("empty row packet");
            }

            if (span[0] == 0xFE && PacketKind.IsResultSetEnd(span, _connection.DeprecateEof))
            {
                var status = _connection.DeprecateEof
                    ? OkPacket.Parse(span)
                    : new OkPacket(0, 0, (ServerStatus)(span.Length >= 5 ? span[3] | span[4] << 8 : 0), 0, string.Empty);
                Completion = status;
                _hasRow = false;
                _connection.SetStatus(status.Status);
                await FinishStatementAsync().ConfigureAwait(false);
                return false;
            }

            if (span[0] == 0xFF)
            {
                throw ErrPacket.Parse(span);
            }

            if (_binaryRows)
            {
                MySqlPreparedStatement.DecodeBinaryRow(span, _columns, _binaryValues);
            }
            else
            {
                ParseRow(span);
            }

            _row = payload;
            _hasRow = true;
            return true;
        }
        catch (Exception ex)
        {
            _done = true;
            var mapped = _guard.Translate(ex);
            await _connection.EndCommandAsync(_guard).ConfigureAwait(false);
            if (ReferenceEquals(mapped, ex))
            {
                throw;
            }

            throw mapped;
        }
    }

    private void ParseRow(ReadOnlySpan<byte> span)
    {
        var pos = 0;
        for (var i = 0; i < _offsets.Length; i++)
        {
            if (pos >= span.Length)
            {
                throw PayloadReader.Malformed($"row packet ends before column {i + 1} of {_offsets.Length}");
            }

            var first = span[pos];
            long len;
            if (first < 0xFB)
            {
                len = first;
                pos++;
            }
            else if (first == 0xFB)
            {
                _offsets[i] = pos + 1;
                _lengths[i] = -1;
                pos++;
                continue;
            }
            else
            {
                var r = new PayloadReader(span) { Offset = pos };
                len = (long)r.ReadLengthEncoded();
                pos = r.Offset;
            }

            if (len > span.Length - pos)
            {
                throw PayloadReader.Malformed($"value of column {i + 1} ({len} bytes) runs past the end of the row packet");
            }

            _offsets[i] = pos;
            _lengths[i] = (int)len;
            pos += (int)len;
        }

        if (pos != span.Length)
        {
            throw PayloadReader.Malformed($"row packet has {span.Length - pos} bytes after its {_offsets.Length} values");
        }
    }

    private async ValueTask FinishStatementAsync()
    {
        // Statements that produce more than one result (CALL) are drained: only the first result is exposed.
        while ((Completion.Status & ServerStatus.MoreResultsExist) != 0)
        {
            var extra = await _connection.Channel.ReadPayloadAsync(_guard.IoToken).ConfigureAwait(false);
            if (PacketKind.IsErr(extra.Span))
            {
                throw ErrPacket.Parse(extra.Span);
            }

            if (PacketKind.IsOk(extra.Span))
            {
                Completion = OkPacket.Parse(extra.Span);
                continue;
            }

            while (true)
            {
                var p = await _connection.Channel.ReadPayloadAsync(_guard.IoToken).ConfigureAwait(false);
                if (PacketKind.IsErr(p.Span))
                {
                    throw ErrPacket.Parse(p.Span);
                }

                if (PacketKind.IsResultSetEnd(p.Span, _connection.DeprecateEof) && (_connection.DeprecateEof || ++_skippedEofs % 2 == 0))
                {
                    Completion = _connection.DeprecateEof ? OkPacket.Parse(p.Span) : Completion with { Status = (ServerStatus)(p.Span[3] | p.Span[4] << 8) };
                    break;
                }
            }
        }

        _done = true;
        await _connection.EndCommandAsync(_guard).ConfigureAwait(false);
    }

    private int _skippedEofs;

    public MySqlValue GetValue(int ordinal)
    {
        CheckOrdinal(ordinal);
        if (_binaryRows)
        {
            return _binaryValues[ordinal];
        }

        var len = _lengths[ordinal];
        return len < 0 ? MySqlValue.Null : MySqlValue.FromBytes(_row.Slice(_offsets[ordinal], len));
    }

    public bool IsDBNull(int ordinal) => GetValue(ordinal).IsNull;

    public int GetOrdinal(string name)
    {
        for (var i = 0; i < _columns.Length; i++)
        {
            if (string.Equals(_columns[i].Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        throw new ArgumentException($"The result has no column '{name}'; columns: {string.Join(", ", _columns.Select(c => c.Name))}.", nameof(name));
    }

    public string? GetString(int ordinal) => GetValue(ordinal).AsString();

    public long GetInt64(int ordinal) => GetValue(ordinal).AsInt64();

    public ulong GetUInt64(int ordinal) => GetValue(ordinal).AsUInt64();

    public int GetInt32(int ordinal) => GetValue(ordinal).AsInt32();

    public decimal GetDecimal(int ordinal) => GetValue(ordinal).AsDecimal();

    public double GetDouble(int ordinal) => GetValue(ordinal).AsDouble();

    public DateTime GetDateTime(int ordinal) => GetValue(ordinal).AsDateTime();

    public byte[]? GetBytes(int ordinal) => GetValue(ordinal).AsBytes();

    /// <summary>Copies the current row's values (owned, safe to keep after the next read).</summary>
    public MySqlValue[] GetRow()
    {
        var values = new MySqlValue[_columns.Length];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = GetValue(i).ToOwned();
        }

        return values;
    }

    private void CheckOrdinal(int ordinal)
    {
        if (!_hasRow)
        {
            throw new InvalidOperationException("No current row: call ReadAsync first.");
        }

        if ((uint)ordinal >= (uint)_columns.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(ordinal), ordinal, $"The result has {_columns.Length} columns.");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        try
        {
            while (await ReadAsync().ConfigureAwait(false))
            {
            }
        }
        finally
        {
            _disposed = true;
        }
    }
}
