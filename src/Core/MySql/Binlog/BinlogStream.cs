using System.Globalization;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Durable.Core.Positions;
using Durable.MySql.Protocol;
using Durable.MySql.Sql;

namespace Durable.MySql.Binlog;

/// <summary>How to start a binlog stream.</summary>
public sealed record BinlogStreamOptions
{
    /// <summary>The replica server id to register with; must differ from every server and every other stream.</summary>
    public required uint ServerId { get; init; }

    /// <summary>Where to start: the stream sends every transaction after this position.</summary>
    public required GtidPosition Start { get; init; }

    /// <summary>How often an idle source sends a heartbeat; the stream fails if nothing arrives for 3 periods + 5 s.</summary>
    public TimeSpan HeartbeatPeriod { get; init; } = TimeSpan.FromSeconds(5);

    public bool VerifyChecksums { get; init; } = true;

    /// <summary>Look up MariaDB UUID/INET4/INET6 columns (plain BINARY in the binlog) in information_schema.</summary>
    public bool ResolveExtendedTypes { get; init; } = true;

    /// <summary>The host name reported in COM_REGISTER_SLAVE (shown by SHOW SLAVE HOSTS).</summary>
    public string ReportHost { get; init; } = "durable";
}

/// <summary>
/// A replication stream from one MySQL/MariaDB server, started at a GTID position. It registers as a replica
/// (COM_REGISTER_SLAVE), negotiates checksums and the heartbeat period, and then hands out events one at a time.
/// A read-ahead task (<see cref="BinlogReadAhead"/>) receives and CRC-checks up to 4 MiB of packets ahead of the
/// consumer, so receiving overlaps decoding. <see cref="Position"/> follows the last complete transaction.
/// MariaDB (slave_connect_state) is the supported flavor; MySQL COM_BINLOG_DUMP_GTID is experimental.
/// </summary>
public sealed class BinlogStream : IAsyncDisposable
{
    private readonly MySqlConnection _connection;
    private readonly BinlogStreamOptions _options;
    private readonly BinlogEventParser _parser;
    private readonly MySqlConnectionOptions _connectionOptions;
    private readonly Dictionary<(string, string), ExtendedColumnType[]> _extendedTypes = [];
    private readonly HashSet<TableMap> _resolved = new(ReferenceEqualityComparer.Instance);
    private readonly BinlogReadAhead _readAhead;
    private readonly TimeSpan _silence;
    private Exception? _failure;
    private bool _ended;
    private Gtid? _pending;
    private bool _pendingStandalone;

    private BinlogStream(MySqlConnection connection, BinlogStreamOptions options, byte checksumAlgorithm, MySqlConnectionOptions connectionOptions)
    {
        _connection = connection;
        _options = options;
        _connectionOptions = connectionOptions;
        Position = options.Start;
        _silence = (options.HeartbeatPeriod * 3) + TimeSpan.FromSeconds(5);
        // The read-ahead task checks the CRCs, so the parser only strips them.
        _parser = new BinlogEventParser(checksumAlgorithm, verifyChecksums: false);
        _readAhead = new BinlogReadAhead(connection.Channel, checksumAlgorithm, options.VerifyChecksums, _silence, DescribeReadFailure, DescribeSilence);
    }

    /// <summary>The position after the last complete transaction read from the stream.</summary>
    public GtidPosition Position { get; private set; }

    /// <summary>The binlog file the source is currently sending (from ROTATE events).</summary>
    public string? CurrentFile { get; private set; }

    public BinlogEventParser Parser => _parser;

    /// <summary>
    /// How often reading waited for the network (nothing read ahead), and how often the read-ahead stopped because
    /// the consumer was 4 MiB behind: which side limits a busy stream's throughput.
    /// </summary>
    /// <summary>
    /// Whether the next event is already received (reading it will not wait for the source). A replicator commits its
    /// batch when this turns false: the source has sent all it had, so holding the batch open only adds lag.
    /// </summary>
    public bool HasBufferedEvent => _failure is null && !_ended && _readAhead.HasPacket;

    public (long ConsumerWaits, long ReaderHoldBacks) ReadAheadStalls => (_readAhead.ConsumerWaits, _readAhead.HoldBacks);

    public static async Task<BinlogStream> StartAsync(MySqlConnectionOptions connectionOptions, BinlogStreamOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.ServerId == 0)
        {
            throw new ArgumentException("A binlog stream needs a non-zero replica server id (0 is reserved); lease one from the range no tablet uses.", nameof(options));
        }

        if (options.HeartbeatPeriod <= TimeSpan.Zero || options.HeartbeatPeriod > TimeSpan.FromSeconds(4294967))
        {
            throw new ArgumentException($"Heartbeat period {options.HeartbeatPeriod} must be between 1 ms and 4294967 s.", nameof(options));
        }

        _ = BinlogEventParser.PrepareDecodePathAsync();
        var connection = await MySqlConnection.OpenAsync(connectionOptions with { InitStatements = [] }, cancellationToken).ConfigureAwait(false);
        try
        {
            var stream = await StartOnAsync(connection, connectionOptions, options, cancellationToken).ConfigureAwait(false);
            return stream;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task<BinlogStream> StartOnAsync(MySqlConnection connection, MySqlConnectionOptions connectionOptions, BinlogStreamOptions options, CancellationToken cancellationToken)
    {
        if (connection.IsMariaDb != (options.Start.Flavor == GtidFlavor.MariaDb))
        {
            throw new ArgumentException($"The start position {options.Start.Encode()} is not a {(connection.IsMariaDb ? "MariaDB" : "MySQL")} position, which the server {connection.ServerVersion} needs.", nameof(options));
        }

        // Checksums: tell the source we understand its algorithm; it then sends events with their CRC32.
        var checksum = await connection.QueryScalarAsync("SELECT @@global.binlog_checksum", cancellationToken).ConfigureAwait(false) ?? "NONE";
        var algorithm = string.Equals(checksum, "CRC32", StringComparison.OrdinalIgnoreCase) ? BinlogEventParser.ChecksumCrc32 : BinlogEventParser.ChecksumNone;
        var heartbeatNanos = ((ulong)options.HeartbeatPeriod.Ticks * 100UL).ToString(CultureInfo.InvariantCulture);
        var quoter = connection.Quoter;
        if (connection.IsMariaDb)
        {
            // One statement, one round trip: the checksum we understand, the heartbeat period (ns), and
            // 4 = MARIA_SLAVE_CAPABILITY_GTID (the source sends GTID events and accepts a GTID start state).
            await connection.ExecuteAsync(
                "SET @master_binlog_checksum = @@global.binlog_checksum, @master_heartbeat_period = " + heartbeatNanos +
                ", @mariadb_slave_capability = 4, @slave_connect_state = " + quoter.String(options.Start.ToString()) +
                ", @slave_gtid_strict_mode = 1, @slave_gtid_ignore_duplicates = 0", cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await connection.ExecuteAsync(
                "SET @master_binlog_checksum = @@global.binlog_checksum, @source_binlog_checksum = @@global.binlog_checksum, " +
                "@master_heartbeat_period = " + heartbeatNanos + ", @source_heartbeat_period = " + heartbeatNanos, cancellationToken).ConfigureAwait(false);
        }

        var writer = new PayloadWriter(128);
        writer.WriteByte((byte)CommandKind.RegisterSlave);
        writer.WriteUInt32(options.ServerId);
        WriteShortString(writer, options.ReportHost);
        WriteShortString(writer, string.Empty); // user: not reported
        WriteShortString(writer, string.Empty); // password: never reported
        writer.WriteUInt16(0);                   // port
        writer.WriteUInt32(0);                   // replication rank (unused)
        writer.WriteUInt32(0);                   // master id (filled in by the source)
        await connection.SendCommandAsync(writer, cancellationToken).ConfigureAwait(false);
        var ok = await connection.Channel.ReadPayloadAsync(cancellationToken).ConfigureAwait(false);
        if (PacketKind.IsErr(ok.Span))
        {
            throw ErrPacket.Parse(ok.Span);
        }

        writer.Clear();
        if (connection.IsMariaDb)
        {
            writer.WriteByte((byte)CommandKind.BinlogDump);
            writer.WriteUInt32(4);   // position: ignored for a GTID start
            writer.WriteUInt16(0);   // flags: blocking
            writer.WriteUInt32(options.ServerId);
            // empty file name: start from @slave_connect_state
        }
        else
        {
            WriteDumpGtid(writer, options);
        }

        await connection.SendCommandAsync(writer, cancellationToken).ConfigureAwait(false);
        return new BinlogStream(connection, options, algorithm, connectionOptions);
    }

    /// <summary>COM_BINLOG_DUMP_GTID (MySQL, experimental): start after the executed GTID set, through GTIDs only.</summary>
    public static void WriteDumpGtid(PayloadWriter writer, BinlogStreamOptions options)
    {
        writer.WriteByte((byte)CommandKind.BinlogDumpGtid);
        writer.WriteUInt16(0x04);    // BINLOG_THROUGH_GTID
        writer.WriteUInt32(options.ServerId);
        writer.WriteUInt32(0);       // binlog name length
        writer.WriteUInt64(4);       // binlog position
        var sids = options.Start.Intervals.GroupBy(i => i.SourceId).ToArray();
        var dataSize = 8 + sids.Sum(g => 16 + 8 + (g.Count() * 16));
        writer.WriteUInt32((uint)dataSize);
        writer.WriteUInt64((ulong)sids.Length);
        Span<byte> uuid = stackalloc byte[16];
        foreach (var group in sids)
        {
            group.Key.TryWriteBytes(uuid, bigEndian: true, out _);
            writer.WriteBytes(uuid);
            writer.WriteUInt64((ulong)group.Count());
            foreach (var (_, start, end) in group)
            {
                writer.WriteUInt64(start);
                writer.WriteUInt64(end + 1); // the wire format uses exclusive ends
            }
        }
    }

    private static void WriteShortString(PayloadWriter writer, string value)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(value);
        if (bytes.Length > 255)
        {
            throw new ArgumentException($"'{value}' is longer than the 255 bytes COM_REGISTER_SLAVE allows.");
        }

        writer.WriteByte((byte)bytes.Length);
        writer.WriteBytes(bytes);
    }

    /// <summary>
    /// Reads the next event. Returns null when the source ended the stream normally. Fails with
    /// <see cref="BinlogPositionPurgedException"/>, <see cref="DuplicateServerIdException"/>, or a
    /// <see cref="MySqlException"/> when the connection is lost or nothing (not even a heartbeat) arrives in time.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ValueTask<BinlogEvent?> ReadEventAsync(CancellationToken cancellationToken = default)
    {
        // Fast path, taken for nearly every event of a busy stream: the packet is already there, so no async state
        // machine runs. A TABLE_MAP that needs the information_schema lookup, or a wait, goes the async way.
        if (_failure is not null || _ended || !_readAhead.TryNext(out var packet))
        {
            return ReadEventSlowAsync(cancellationToken);
        }

        if (packet.Error is { } error)
        {
            _failure = error;
            return ValueTask.FromException<BinlogEvent?>(error);
        }

        BinlogEvent? evt;
        try
        {
            evt = Decode(packet.Memory);
        }
        catch (Exception ex)
        {
            // As from the async path: the error is in the returned task, and a protocol error fails the stream.
            if (ex is MySqlException)
            {
                _failure = ex;
            }

            return ValueTask.FromException<BinlogEvent?>(ex);
        }
        finally
        {
            _readAhead.Release(packet);
        }

        return evt is TableMapEvent map && NeedsExtendedTypes(map) ? WithExtendedTypesAsync(map, cancellationToken) : new ValueTask<BinlogEvent?>(evt);
    }

    private bool NeedsExtendedTypes(TableMapEvent map) => _options.ResolveExtendedTypes && _connection.IsMariaDb && _resolved.Add(map.Table);

    private async ValueTask<BinlogEvent?> WithExtendedTypesAsync(TableMapEvent map, CancellationToken cancellationToken)
    {
        await ResolveExtendedTypesAsync(map.Table, cancellationToken).ConfigureAwait(false);
        return map;
    }

    private async ValueTask<BinlogEvent?> ReadEventSlowAsync(CancellationToken cancellationToken)
    {
        if (_failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(_failure);
        }

        if (_ended)
        {
            return null;
        }

        BinlogReadAhead.Packet packet;
        try
        {
            packet = await _readAhead.NextAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The caller gave up mid-stream: the connection is left at an unknown point, as with a cancelled read.
            _connection.Abort();
            throw;
        }
        catch (ChannelClosedException)
        {
            _ended = true;
            return null;
        }

        if (packet.Error is { } error)
        {
            _failure = error;
            throw error;
        }

        try
        {
            var evt = Decode(packet.Memory);
            if (evt is TableMapEvent map && NeedsExtendedTypes(map))
            {
                await ResolveExtendedTypesAsync(map.Table, cancellationToken).ConfigureAwait(false);
            }

            return evt;
        }
        catch (Exception ex) when (ex is MySqlException)
        {
            _failure = ex;
            throw;
        }
        finally
        {
            _readAhead.Release(packet);
        }
    }

    /// <summary>One payload into an event (null: the source ended the stream).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private BinlogEvent? Decode(ReadOnlyMemory<byte> payload)
    {
        var span = payload.Span;
        if (span.Length == 0)
        {
            throw PayloadReader.Malformed("empty binlog packet");
        }

        switch (span[0])
        {
            case 0x00:
                // The read-ahead never reuses a packet's buffer, so values may point into it.
                var evt = _parser.ParseOwned(payload[1..]);
                Track(evt);
                return evt;
            case 0xFF:
                throw MapError(ErrPacket.Parse(span));
            case 0xFE when span.Length < 9:
                _ended = true;
                return null;
            default:
                throw PayloadReader.Malformed($"binlog packet starting with 0x{span[0]:X2}");
        }
    }

    private Exception DescribeReadFailure(Exception ex) => ex is MySqlException { ErrorNumber: MySqlErrorCode.ServerLost }
        ? MySqlException.Client(MySqlErrorCode.ServerLost,
            $"The binlog stream from {_connectionOptions} (server id {_options.ServerId}) was cut: {ex.Message} If another replica connected with server id {_options.ServerId}, the source ended this one.", ex)
        : ex;

    private Exception DescribeSilence(OperationCanceledException ex)
    {
        _connection.Abort();
        return MySqlException.Client(MySqlErrorCode.ServerLost,
            $"The binlog stream from {_connectionOptions} sent nothing, not even a heartbeat, for {_silence}; the source is unreachable or stalled.", ex);
    }

    private MySqlException MapError(MySqlException error)
    {
        var message = error.Message;
        if (error.ErrorNumber == MySqlErrorCode.MasterFatalReadingBinlog &&
            (message.Contains("purged", StringComparison.OrdinalIgnoreCase) ||
             message.Contains("Could not find GTID state", StringComparison.OrdinalIgnoreCase) ||
             message.Contains("could not find first log", StringComparison.OrdinalIgnoreCase)))
        {
            return new BinlogPositionPurgedException(_options.Start.ToString(), error);
        }

        if (message.Contains("same server_uuid/server_id", StringComparison.OrdinalIgnoreCase) ||
            message.Contains("same server id", StringComparison.OrdinalIgnoreCase) ||
            error.ErrorNumber is MySqlErrorCode.ConnectionKilled or 1950 /* ER_SLAVE_SAME_ID (MariaDB) */)
        {
            return new DuplicateServerIdException((int)_options.ServerId, error);
        }

        return error;
    }

    private void Track(BinlogEvent evt)
    {
        switch (evt)
        {
            case RotateEvent rotate:
                CurrentFile = rotate.FileName;
                break;
            case GtidEvent gtid:
                _pending = gtid.Gtid;
                _pendingStandalone = gtid.IsStandalone;
                break;
            case XidEvent:
                Commit();
                break;
            case QueryEvent query when _pending is not null:
                if (_pendingStandalone || query.Sql.Equals("COMMIT", StringComparison.OrdinalIgnoreCase))
                {
                    Commit();
                }

                break;
        }
    }

    private void Commit()
    {
        if (_pending is { } gtid)
        {
            Position = Position.Add(gtid);
            _pending = null;
            _pendingStandalone = false;
        }
    }

    /// <summary>MariaDB's UUID, INET4 and INET6 types look like BINARY(n) in the binlog; information_schema tells them apart.</summary>
    private async ValueTask ResolveExtendedTypesAsync(TableMap map, CancellationToken cancellationToken)
    {
        var candidates = map.Columns.Any(c => c.Type == ColumnType.String && c.RealType == ColumnType.String && (c.Metadata & 0xFF) is 16 or 4 && c.Collation is null or MySqlColumn.BinaryCharacterSet);
        if (!candidates)
        {
            return;
        }

        if (!_extendedTypes.TryGetValue((map.Schema, map.Table), out var types))
        {
            types = await LookupExtendedTypesAsync(map, cancellationToken).ConfigureAwait(false);
            _extendedTypes[(map.Schema, map.Table)] = types;
        }

        for (var i = 0; i < map.Columns.Count && i < types.Length; i++)
        {
            map.Columns[i].Extended = types[i];
        }
    }

    private async ValueTask<ExtendedColumnType[]> LookupExtendedTypesAsync(TableMap map, CancellationToken cancellationToken)
    {
        await using var side = await MySqlConnection.OpenAsync(_connectionOptions with { InitStatements = [], Database = null }, cancellationToken).ConfigureAwait(false);
        var sql = "SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = " + side.Quoter.String(map.Schema) +
                  " AND TABLE_NAME = " + side.Quoter.String(map.Table) + " ORDER BY ORDINAL_POSITION";
        var result = new List<ExtendedColumnType>();
        await using var reader = await side.QueryAsync(sql, cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            result.Add(reader.GetString(0)?.ToLowerInvariant() switch
            {
                "uuid" => ExtendedColumnType.MariaDbUuid,
                "inet6" => ExtendedColumnType.MariaDbInet6,
                "inet4" => ExtendedColumnType.MariaDbInet4,
                _ => ExtendedColumnType.None,
            });
        }

        return [.. result];
    }

    public async ValueTask DisposeAsync()
    {
        _connection.Abort();
        await _readAhead.DisposeAsync().ConfigureAwait(false);
        await _connection.DisposeAsync().ConfigureAwait(false);
    }
}
