using System.Buffers.Binary;
using System.Buffers.Text;
using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Durable.Core.Positions;
using Durable.MySql.Protocol;

namespace Durable.MySql.Binlog;

/// <summary>
/// Turns raw binlog events into <see cref="BinlogEvent"/>s: checks the CRC32, learns the post-header lengths and
/// checksum algorithm from FORMAT_DESCRIPTION, remembers TABLE_MAPs by table id and decodes ROWS events into
/// SELECT-form values. Malformed input raises a <see cref="MySqlException"/> (2027), never an index error.
/// </summary>
public sealed class BinlogEventParser
{
    public const byte ChecksumNone = 0;
    public const byte ChecksumCrc32 = 1;

    private readonly Dictionary<ulong, TableMap> _tables = [];
    private readonly ValueArena _arena = new();
    private ReadOnlyMemory<byte> _owned;
    private byte[] _postHeaderLengths = [];

    /// <param name="checksumAlgorithm">The algorithm in force before the first FORMAT_DESCRIPTION (what was negotiated).</param>
    public BinlogEventParser(byte checksumAlgorithm, bool verifyChecksums = true)
    {
        ChecksumAlgorithm = checksumAlgorithm;
        VerifyChecksums = verifyChecksums;
    }

    public byte ChecksumAlgorithm { get; private set; }

    /// <summary>
    /// Compiles what a starting stream runs — the query path, the stream's start and first events, and the
    /// row-decoding path (fully optimised: its methods are marked AggressiveOptimization) — on a thread-pool thread,
    /// once per process (<see cref="StreamWarmUp"/>). A stream starts this before it connects, so compiling overlaps
    /// the connection's start on another core instead of delaying the first rows.
    /// </summary>
    public static Task PrepareDecodePathAsync() => DecodePathPrepared.Value;

    private static readonly Lazy<Task> DecodePathPrepared = new(() => Task.Run(StreamWarmUp.Run));

    public bool VerifyChecksums { get; }

    public IReadOnlyDictionary<ulong, TableMap> Tables => _tables;

    /// <summary>
    /// Parses an event whose buffer the caller hands over for good: decoded values of character and binary columns
    /// then point into it instead of being copied, so it must never be written again (the stream's read-ahead
    /// slabs). <see cref="Parse"/> (any buffer) copies every value.
    /// </summary>
    public BinlogEvent ParseOwned(ReadOnlyMemory<byte> evt)
    {
        _owned = evt;
        try
        {
            return Parse(evt.Span);
        }
        finally
        {
            _owned = default;
        }
    }

    // The decode path (Parse, ParseRows, ReadImage, DecodeValue...) is compiled fully optimised on first call: it
    // runs per row and value, and with tiered compilation it would otherwise run unoptimised code until the
    // background compiler (starved on a busy machine) caught up.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public BinlogEvent Parse(ReadOnlySpan<byte> evt)
    {
        if (evt.Length < BinlogEventHeader.Size)
        {
            throw PayloadReader.Malformed($"binlog event of {evt.Length} bytes is shorter than its 19-byte header");
        }

        var header = new BinlogEventHeader(
            BinaryPrimitives.ReadUInt32LittleEndian(evt),
            (BinlogEventType)evt[4],
            BinaryPrimitives.ReadUInt32LittleEndian(evt[5..]),
            BinaryPrimitives.ReadUInt32LittleEndian(evt[9..]),
            BinaryPrimitives.ReadUInt32LittleEndian(evt[13..]),
            BinaryPrimitives.ReadUInt16LittleEndian(evt[17..]));
        if (header.EventSize != evt.Length)
        {
            throw PayloadReader.Malformed($"{header.Type} event says it is {header.EventSize} bytes but {evt.Length} arrived");
        }

        var checksummed = header.Type == BinlogEventType.FormatDescription
            ? FormatDescriptionHasCrc(evt)
            : ChecksumAlgorithm == ChecksumCrc32;
        if (checksummed)
        {
            if (evt.Length < BinlogEventHeader.Size + 4)
            {
                throw PayloadReader.Malformed($"{header.Type} event too short for its checksum");
            }

            if (VerifyChecksums)
            {
                CheckCrc(evt, header.Type, header.Flags, header.NextPosition);
            }

            evt = evt[..^4];
        }

        var body = evt[BinlogEventHeader.Size..];
        return header.Type switch
        {
            BinlogEventType.FormatDescription => ParseFormatDescription(header, body),
            BinlogEventType.Rotate => ParseRotate(header, body),
            BinlogEventType.Query or BinlogEventType.QueryCompressed => ParseQuery(header, body),
            BinlogEventType.Xid => new XidEvent(header, new PayloadReader(body).ReadUInt64()),
            BinlogEventType.TableMap => ParseTableMap(header, body),
            >= BinlogEventType.WriteRowsV1 and <= BinlogEventType.DeleteRowsV1 or
                >= BinlogEventType.WriteRowsV2 and <= BinlogEventType.DeleteRowsV2 or
                >= BinlogEventType.WriteRowsCompressedV1 and <= BinlogEventType.DeleteRowsCompressedV2 => ParseRows(header, body),
            BinlogEventType.MariaDbGtid => ParseMariaDbGtid(header, body),
            BinlogEventType.GtidList => ParseGtidList(header, body),
            BinlogEventType.BinlogCheckpoint => ParseCheckpoint(header, body),
            BinlogEventType.AnnotateRows => new AnnotateRowsEvent(header, Encoding.UTF8.GetString(body)),
            BinlogEventType.Heartbeat or BinlogEventType.HeartbeatV2 => new HeartbeatEvent(header, Encoding.UTF8.GetString(body.TrimEnd((byte)0))),
            BinlogEventType.MySqlGtid or BinlogEventType.MySqlAnonymousGtid => ParseMySqlGtid(header, body),
            BinlogEventType.PreviousGtids => ParsePreviousGtids(header, body),
            BinlogEventType.StartEncryption => throw MySqlException.Client(MySqlErrorCode.MalformedPacket,
                "The binlog is encrypted (START_ENCRYPTION event); encrypted binlogs are not supported."),
            _ => new OtherEvent(header),
        };
    }

    /// <summary>
    /// Checks one event's CRC32 ahead of <see cref="Parse"/> (the read-ahead task of a stream does this, so the
    /// parser then only strips the checksum). <paramref name="algorithm"/> is the checksum algorithm in force and is
    /// updated by FORMAT_DESCRIPTION events, exactly as <see cref="Parse"/> tracks it. Events too short to check are
    /// left for <see cref="Parse"/> to reject.
    /// </summary>
    public static void VerifyChecksum(ReadOnlySpan<byte> evt, ref byte algorithm)
    {
        if (evt.Length < BinlogEventHeader.Size)
        {
            return;
        }

        var type = (BinlogEventType)evt[4];
        var checksummed = type == BinlogEventType.FormatDescription ? FormatDescriptionHasCrc(evt) : algorithm == ChecksumCrc32;
        if (checksummed && evt.Length >= BinlogEventHeader.Size + 4)
        {
            CheckCrc(evt, type, BinaryPrimitives.ReadUInt16LittleEndian(evt[17..]), BinaryPrimitives.ReadUInt32LittleEndian(evt[13..]));
        }

        if (type == BinlogEventType.FormatDescription)
        {
            // As ParseFormatDescription: the algorithm is the last byte after the 57-byte fixed part (CRC removed).
            var body = checksummed ? evt[..^4] : evt;
            algorithm = body.Length > BinlogEventHeader.Size + 57 ? body[^1] : ChecksumNone;
        }
    }

    private static void CheckCrc(ReadOnlySpan<byte> evt, BinlogEventType type, ushort flags, uint nextPosition)
    {
        var expected = BinaryPrimitives.ReadUInt32LittleEndian(evt[^4..]);
        var actual = Crc32.Compute(evt[..^4]);
        if (actual != expected && type == BinlogEventType.FormatDescription && (flags & 1) != 0)
        {
            // LOG_EVENT_BINLOG_IN_USE_F is set in an open binlog file after the checksum was computed.
            var copy = evt[..^4].ToArray();
            copy[17] &= 0xFE;
            actual = Crc32.Compute(copy);
        }

        if (actual != expected)
        {
            throw MySqlException.Client(MySqlErrorCode.BinlogChecksumMismatch,
                $"Binlog event {type} ending at position {nextPosition} failed its CRC32 check (computed {actual:X8}, event says {expected:X8}): the stream is corrupt.");
        }
    }

    private static bool FormatDescriptionHasCrc(ReadOnlySpan<byte> evt) =>
        evt.Length >= BinlogEventHeader.Size + 57 + 5 && evt[^5] == ChecksumCrc32;

    private int PostHeaderLength(BinlogEventType type, int fallback) =>
        (int)type - 1 < _postHeaderLengths.Length && (int)type >= 1 ? _postHeaderLengths[(int)type - 1] : fallback;

    private FormatDescriptionEvent ParseFormatDescription(BinlogEventHeader header, ReadOnlySpan<byte> body)
    {
        var r = new PayloadReader(body);
        var version = r.ReadUInt16();
        var serverVersion = Encoding.ASCII.GetString(r.ReadBytes(50).TrimEnd((byte)0));
        r.ReadUInt32();
        var headerLength = r.ReadByte();
        if (headerLength != BinlogEventHeader.Size)
        {
            throw PayloadReader.Malformed($"FORMAT_DESCRIPTION with event header length {headerLength}; only 19 is supported");
        }

        // The rest is the post-header length table, then (since 5.6.1 / MariaDB 5.3) the checksum algorithm byte.
        // The CRC (when present) has been removed by the caller, so the algorithm is the last byte.
        var rest = r.ReadRest();
        var alg = rest.Length > 0 ? rest[^1] : ChecksumNone;
        _postHeaderLengths = rest[..^1].ToArray();
        ChecksumAlgorithm = alg;
        return new FormatDescriptionEvent(header, version, serverVersion, alg);
    }

    private static RotateEvent ParseRotate(BinlogEventHeader header, ReadOnlySpan<byte> body)
    {
        var r = new PayloadReader(body);
        var position = r.ReadUInt64();
        return new RotateEvent(header, Encoding.UTF8.GetString(r.ReadRest()), position);
    }

    private QueryEvent ParseQuery(BinlogEventHeader header, ReadOnlySpan<byte> body)
    {
        var r = new PayloadReader(body);
        var postHeader = PostHeaderLength(header.Type, 13);
        var thread = r.ReadUInt32();
        var seconds = r.ReadUInt32();
        var schemaLength = r.ReadByte();
        var error = r.ReadUInt16();
        var statusLength = postHeader >= 13 ? r.ReadUInt16() : 0;
        r.Skip(postHeader - 13 > 0 ? postHeader - 13 : 0);
        r.Skip(statusLength);
        var schema = Encoding.UTF8.GetString(r.ReadBytes(schemaLength));
        r.ReadByte();
        var sqlBytes = r.ReadRest();
        var sql = header.Type == BinlogEventType.QueryCompressed
            ? Encoding.UTF8.GetString(Decompress(sqlBytes, "QUERY_COMPRESSED"))
            : Encoding.UTF8.GetString(sqlBytes);
        return new QueryEvent(header, thread, seconds, error, schema, sql);
    }

    private TableMapEvent ParseTableMap(BinlogEventHeader header, ReadOnlySpan<byte> body)
    {
        var map = TableMap.Parse(body, PostHeaderLength(BinlogEventType.TableMap, 8));
        if (!_tables.TryGetValue(map.TableId, out var known) || known.Schema != map.Schema || known.Table != map.Table ||
            known.Columns.Count != map.Columns.Count || !known.Columns.Select(c => (c.Type, c.Metadata)).SequenceEqual(map.Columns.Select(c => (c.Type, c.Metadata))))
        {
            _tables[map.TableId] = map;
        }
        else
        {
            map = known;
        }

        return new TableMapEvent(header, map);
    }

    private static GtidEvent ParseMariaDbGtid(BinlogEventHeader header, ReadOnlySpan<byte> body)
    {
        var r = new PayloadReader(body);
        var seq = r.ReadUInt64();
        var domain = r.ReadUInt32();
        var flags = r.ReadByte();
        ulong? commitId = (flags & 2) != 0 && r.Remaining >= 8 ? r.ReadUInt64() : null;
        return new GtidEvent(header, Gtid.MariaDb(domain, header.ServerId, seq), flags, commitId);
    }

    private static GtidListEvent ParseGtidList(BinlogEventHeader header, ReadOnlySpan<byte> body)
    {
        var r = new PayloadReader(body);
        var count = r.ReadUInt32() & 0x0FFFFFFF;
        if (count > (uint)r.Remaining / 16)
        {
            throw PayloadReader.Malformed($"GTID_LIST claims {count} entries in {r.Remaining} bytes");
        }

        var list = new List<Gtid>((int)count);
        for (var i = 0; i < count; i++)
        {
            var domain = r.ReadUInt32();
            var server = r.ReadUInt32();
            var seq = r.ReadUInt64();
            list.Add(Gtid.MariaDb(domain, server, seq));
        }

        return new GtidListEvent(header, list);
    }

    private static BinlogCheckpointEvent ParseCheckpoint(BinlogEventHeader header, ReadOnlySpan<byte> body)
    {
        var r = new PayloadReader(body);
        var length = (int)r.ReadUInt32();
        return new BinlogCheckpointEvent(header, Encoding.UTF8.GetString(r.ReadBytes(length)));
    }

    private static GtidEvent ParseMySqlGtid(BinlogEventHeader header, ReadOnlySpan<byte> body)
    {
        var r = new PayloadReader(body);
        var flags = r.ReadByte();
        var sid = r.ReadBytes(16);
        var gno = r.ReadUInt64();
        return new GtidEvent(header, Gtid.MySql(UuidFromBytes(sid), gno), flags, null);
    }

    private static PreviousGtidsEvent ParsePreviousGtids(BinlogEventHeader header, ReadOnlySpan<byte> body)
    {
        var r = new PayloadReader(body);
        var sids = r.ReadUInt64();
        var parts = new List<string>();
        for (ulong i = 0; i < sids; i++)
        {
            var uuid = UuidFromBytes(r.ReadBytes(16));
            var intervals = r.ReadUInt64();
            if (intervals > (ulong)r.Remaining / 16)
            {
                throw PayloadReader.Malformed($"PREVIOUS_GTIDS claims {intervals} intervals in {r.Remaining} bytes");
            }

            var sb = new StringBuilder(uuid.ToString("D"));
            for (ulong k = 0; k < intervals; k++)
            {
                var start = r.ReadUInt64();
                var endExclusive = r.ReadUInt64();
                if (endExclusive <= start)
                {
                    throw PayloadReader.Malformed($"PREVIOUS_GTIDS interval {start}-{endExclusive} is empty");
                }

                sb.Append(':').Append(start).Append('-').Append(endExclusive - 1);
            }

            parts.Add(sb.ToString());
        }

        return new PreviousGtidsEvent(header, GtidPosition.Parse(string.Join(",", parts), GtidFlavor.MySql));
    }

    /// <summary>MySQL stores a server uuid as 16 bytes in text order (not .NET's mixed-endian Guid layout).</summary>
    private static Guid UuidFromBytes(ReadOnlySpan<byte> b) => new(b, bigEndian: true);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private RowsEvent ParseRows(BinlogEventHeader header, ReadOnlySpan<byte> body)
    {
        var type = header.Type;
        var (kind, v2, compressed) = type switch
        {
            BinlogEventType.WriteRowsV1 => (RowsEventKind.Insert, false, false),
            BinlogEventType.UpdateRowsV1 => (RowsEventKind.Update, false, false),
            BinlogEventType.DeleteRowsV1 => (RowsEventKind.Delete, false, false),
            BinlogEventType.WriteRowsV2 => (RowsEventKind.Insert, true, false),
            BinlogEventType.UpdateRowsV2 => (RowsEventKind.Update, true, false),
            BinlogEventType.DeleteRowsV2 => (RowsEventKind.Delete, true, false),
            BinlogEventType.WriteRowsCompressedV1 => (RowsEventKind.Insert, false, true),
            BinlogEventType.UpdateRowsCompressedV1 => (RowsEventKind.Update, false, true),
            BinlogEventType.DeleteRowsCompressedV1 => (RowsEventKind.Delete, false, true),
            BinlogEventType.WriteRowsCompressedV2 => (RowsEventKind.Insert, true, true),
            BinlogEventType.UpdateRowsCompressedV2 => (RowsEventKind.Update, true, true),
            _ => (RowsEventKind.Delete, true, true),
        };

        var r = new PayloadReader(body);
        var postHeader = PostHeaderLength(type, v2 ? 10 : 8);
        var tableId = postHeader == 6 ? r.ReadUInt32() : r.ReadUInt48();
        var flags = r.ReadUInt16();
        if (v2)
        {
            var extra = r.ReadUInt16();
            if (extra < 2)
            {
                throw PayloadReader.Malformed($"ROWS v2 extra data length {extra}");
            }

            r.Skip(extra - 2);
        }

        if (!_tables.TryGetValue(tableId, out var table))
        {
            throw PayloadReader.Malformed($"{type} event for table id {tableId} without a TABLE_MAP before it");
        }

        var width = r.ReadLengthEncodedInt32();
        if (width != table.Columns.Count)
        {
            throw PayloadReader.Malformed($"{type} event for {table} has {width} columns, its TABLE_MAP {table.Columns.Count}");
        }

        var present = ReadBitmap(ref r, width);
        var presentAfter = kind == RowsEventKind.Update ? ReadBitmap(ref r, width) : present;
        ReadOnlySpan<byte> rowsData = r.ReadRest();
        if (compressed)
        {
            rowsData = Decompress(rowsData, type.ToString());
        }

        var columns = table.ColumnArray;
        var presentIndexes = PresentIndexes(present);
        var presentAfterIndexes = kind == RowsEventKind.Update ? PresentIndexes(presentAfter) : presentIndexes;
        var rows = new List<RowChange>();
        var rr = new PayloadReader(rowsData);
        while (rr.Remaining > 0)
        {
            if (rows.Count == 1)
            {
                // Sized from the first row, so the list of a full event is not regrown several times.
                rows.Capacity = (rowsData.Length / Math.Max(1, rr.Offset)) + 2;
            }

            var first = ReadImage(ref rr, table, columns, presentIndexes);
            if (kind == RowsEventKind.Update)
            {
                var second = ReadImage(ref rr, table, columns, presentAfterIndexes);
                rows.Add(new RowChange(first, second));
            }
            else
            {
                rows.Add(kind == RowsEventKind.Insert ? new RowChange(null, first) : new RowChange(first, null));
            }
        }

        return new RowsEvent(header, kind, table, present, presentAfter, rows, flags);
    }

    private static int[] PresentIndexes(bool[] present)
    {
        var count = 0;
        foreach (var p in present)
        {
            count += p ? 1 : 0;
        }

        var indexes = new int[count];
        var n = 0;
        for (var i = 0; i < present.Length; i++)
        {
            if (present[i])
            {
                indexes[n++] = i;
            }
        }

        return indexes;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool[] ReadBitmap(ref PayloadReader r, int width)
    {
        var bytes = r.ReadBytes((width + 7) / 8);
        var bits = new bool[width];
        for (var i = 0; i < width; i++)
        {
            bits[i] = (bytes[i / 8] & (1 << (i % 8))) != 0;
        }

        return bits;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private MySqlValue[] ReadImage(ref PayloadReader r, TableMap table, BinlogColumn[] columns, int[] presentIndexes)
    {
        var nulls = r.ReadBytes((presentIndexes.Length + 7) / 8);
        var values = new MySqlValue[columns.Length];
        for (var n = 0; n < presentIndexes.Length; n++)
        {
            var i = presentIndexes[n];
            var isNull = (nulls[n >> 3] & (1 << (n & 7))) != 0;
            values[i] = isNull ? MySqlValue.Null : DecodeValue(ref r, columns[i], table);
        }

        return values;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private MySqlValue DecodeValue(ref PayloadReader r, BinlogColumn c, TableMap table)
    {
        var m = c.Metadata;
        switch (c.Type)
        {
            case ColumnType.Tiny:
            {
                var b = r.ReadByte();
                return c.Unsigned ? Number(b) : Number((sbyte)b);
            }

            case ColumnType.Short:
            {
                var v = r.ReadUInt16();
                return c.Unsigned ? Number(v) : Number((short)v);
            }

            case ColumnType.Int24:
            {
                var v = r.ReadUInt24();
                return c.Unsigned ? Number(v) : Number(((int)(v << 8)) >> 8);
            }

            case ColumnType.Long:
            {
                var v = r.ReadUInt32();
                return c.Unsigned ? Number(v) : Number((int)v);
            }

            case ColumnType.LongLong:
            {
                var v = r.ReadUInt64();
                return c.Unsigned ? Number(v) : Number((long)v);
            }

            case ColumnType.Float:
                // Not as a SELECT prints it (six digits: 16777216 as 16777200): the applier writes this text back, so it
                // is the float's exact value in the shortest form that reads back, as SELECT CAST(f AS DOUBLE) prints it.
                return Text(TextFormat.Double(BitConverter.Int32BitsToSingle((int)r.ReadUInt32())));
            case ColumnType.Double:
                return Text(TextFormat.Double(BitConverter.Int64BitsToDouble((long)r.ReadUInt64())));
            case ColumnType.NewDecimal:
            {
                int precision = m >> 8, scale = m & 0xFF;
                if (precision == 0 || scale > precision)
                {
                    throw PayloadReader.Malformed($"DECIMAL({precision},{scale}) metadata for {table}.{c.Name ?? c.Index.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
                }

                var bytes = r.ReadBytes(TextFormat.DecimalSize(precision, scale));
                return Text(TextFormat.Decimal(bytes, precision, scale));
            }

            case ColumnType.Year:
            {
                var y = r.ReadByte();
                return Text(y == 0 ? "0000" : (1900 + y).ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            case ColumnType.Date or ColumnType.NewDate:
                return Text(TextFormat.Date(r.ReadUInt24()));
            case ColumnType.Time:
                return Text(TextFormat.TimeOld(((int)(r.ReadUInt24() << 8)) >> 8));
            case ColumnType.Time2:
                return Text(TextFormat.Time2(r.ReadBytes(3 + TextFormat.FractionBytes(m)), m));
            case ColumnType.DateTime:
                return Text(TextFormat.DateTimeOld(r.ReadUInt64()));
            case ColumnType.DateTime2:
                return Text(TextFormat.DateTime2(r.ReadBytes(5 + TextFormat.FractionBytes(m)), m));
            case ColumnType.Timestamp:
                return Text(TextFormat.Timestamp(r.ReadUInt32(), 0, 0));
            case ColumnType.Timestamp2:
                return Text(TextFormat.Timestamp2(r.ReadBytes(4 + TextFormat.FractionBytes(m)), m));
            case ColumnType.Bit:
            {
                var bits = m >> 8;
                var length = (m & 0xFF) + (bits > 0 ? 1 : 0);
                return Bytes(r.ReadBytes(length));
            }

            case ColumnType.VarChar or ColumnType.VarString:
            {
                var length = m > 255 ? r.ReadUInt16() : r.ReadByte();
                return CharacterBytes(r.ReadBytes(length), c);
            }

            case ColumnType.VarCharCompressed:
            {
                var length = m > 255 ? r.ReadUInt16() : r.ReadByte();
                return CharacterBytes(DecompressColumn(r.ReadBytes(length), table, c), c);
            }

            case ColumnType.String or ColumnType.Enum or ColumnType.Set:
                return DecodeString(ref r, c, table);
            case ColumnType.Blob or ColumnType.Geometry or ColumnType.TinyBlob or ColumnType.MediumBlob or ColumnType.LongBlob:
            {
                var length = ReadLength(ref r, m);
                return c.Type == ColumnType.Geometry ? Bytes(r.ReadBytes(length)) : CharacterBytes(r.ReadBytes(length), c);
            }

            case ColumnType.BlobCompressed:
            {
                var length = ReadLength(ref r, m);
                return CharacterBytes(DecompressColumn(r.ReadBytes(length), table, c), c);
            }

            case ColumnType.Json:
            {
                var length = ReadLength(ref r, m);
                var data = r.ReadBytes(length);
                return Text(MySqlJson.ToText(data));
            }

            default:
                throw PayloadReader.Malformed($"column {c.Name ?? c.Index.ToString(System.Globalization.CultureInfo.InvariantCulture)} of {table} has type {(int)c.Type}, which no server writes in row events");
        }
    }

    private static int ReadLength(ref PayloadReader r, ushort lengthBytes) => lengthBytes switch
    {
        1 => r.ReadByte(),
        2 => r.ReadUInt16(),
        3 => (int)r.ReadUInt24(),
        4 => checked((int)r.ReadUInt32()),
        _ => throw PayloadReader.Malformed($"BLOB length size {lengthBytes}"),
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private MySqlValue DecodeString(ref PayloadReader r, BinlogColumn c, TableMap table)
    {
        var m = c.Metadata;
        var real = c.RealType;
        if (real == ColumnType.Enum)
        {
            var size = m & 0xFF;
            var index = size == 1 ? r.ReadByte() : r.ReadUInt16();
            if (index == 0)
            {
                return Text(string.Empty);
            }

            var values = c.EnumValues ?? throw MissingMetadata(table, c, "ENUM values");
            return index <= values.Count ? Bytes(Encoding.UTF8.GetBytes(values[index - 1])) : throw PayloadReader.Malformed($"ENUM index {index} of {table} column {c.Name} beyond its {values.Count} values");
        }

        if (real == ColumnType.Set)
        {
            var size = m & 0xFF;
            var bytes = r.ReadBytes(size);
            ulong mask = 0;
            for (var i = size - 1; i >= 0; i--)
            {
                mask = (mask << 8) | bytes[i];
            }

            var values = c.SetValues ?? throw MissingMetadata(table, c, "SET values");
            var chosen = new List<string>();
            for (var i = 0; i < values.Count && i < 64; i++)
            {
                if ((mask & (1UL << i)) != 0)
                {
                    chosen.Add(values[i]);
                }
            }

            return Bytes(Encoding.UTF8.GetBytes(string.Join(",", chosen)));
        }

        var maxLength = (((m >> 4) & 0x300) ^ 0x300) + (m & 0xFF);
        var length = maxLength > 255 ? r.ReadUInt16() : r.ReadByte();
        var data = r.ReadBytes(length);
        if ((c.IsBinary || c.Extended != ExtendedColumnType.None) && data.Length < maxLength)
        {
            // BINARY(n) values (and MariaDB UUID/INET, stored the same way) lose their trailing 0x00 padding in the
            // row image; SELECT returns them padded.
            var padded = _arena.Allocate(maxLength);
            data.CopyTo(padded.Span);
            padded.Span[data.Length..].Clear();
            data = padded.Span;
        }

        switch (c.Extended)
        {
            case ExtendedColumnType.MariaDbUuid when data.Length == 16:
                return Text(TextFormat.MariaDbUuid(data));
            case ExtendedColumnType.MariaDbInet6 when data.Length == 16:
                return Text(TextFormat.Inet6(data));
            case ExtendedColumnType.MariaDbInet4 when data.Length == 4:
                return Text(TextFormat.Inet4(data));
        }

        return CharacterBytes(data, c);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private MySqlValue CharacterBytes(ReadOnlySpan<byte> data, BinlogColumn c) =>
        Charsets.NeedsConversion(c.Collation, data) ? MySqlValue.FromBytes(Charsets.Latin1ToUtf8(data)) : Bytes(data);

    private static MySqlException MissingMetadata(TableMap table, BinlogColumn c, string what) =>
        MySqlException.Client(MySqlErrorCode.MalformedPacket,
            $"The TABLE_MAP of {table} has no {what} for column {c.Name ?? c.Index.ToString(System.Globalization.CultureInfo.InvariantCulture)}: set binlog_row_metadata=FULL on the source.");

    /// <summary>MariaDB COMPRESSED column data: a header byte (0x80 | 8 for raw deflate | length size) or 0 for stored-as-is.</summary>
    private static byte[] DecompressColumn(ReadOnlySpan<byte> data, TableMap table, BinlogColumn c)
    {
        if (data.Length == 0)
        {
            return [];
        }

        var head = data[0];
        if ((head & 0x80) == 0)
        {
            return data[1..].ToArray();
        }

        var lengthBytes = head & 7;
        var wrapped = (head & 8) == 0; // flag 8: raw deflate without the zlib wrapper
        if (data.Length < 1 + lengthBytes)
        {
            throw PayloadReader.Malformed($"compressed column {c.Name} of {table} is truncated");
        }

        var length = 0;
        for (var i = 0; i < lengthBytes; i++)
        {
            length = (length << 8) | data[1 + i];
        }

        return Inflate(data[(1 + lengthBytes)..], length, wrapped, $"column {c.Name} of {table}");
    }

    /// <summary>Compressed events (log_bin_compress): a header byte 0x80 | length size, the big-endian length, zlib data.</summary>
    private static byte[] Decompress(ReadOnlySpan<byte> data, string what)
    {
        if (data.Length == 0 || (data[0] & 0xE0) != 0x80)
        {
            throw PayloadReader.Malformed($"{what} event without a compression header");
        }

        var lengthBytes = data[0] & 7;
        if (lengthBytes is 0 or > 4 || data.Length < 1 + lengthBytes)
        {
            throw PayloadReader.Malformed($"{what} event with compressed length size {lengthBytes}");
        }

        var length = 0L;
        for (var i = 0; i < lengthBytes; i++)
        {
            length = (length << 8) | data[1 + i];
        }

        return Inflate(data[(1 + lengthBytes)..], checked((int)length), wrapped: true, what);
    }

    private static byte[] Inflate(ReadOnlySpan<byte> compressed, int expectedLength, bool wrapped, string what)
    {
        var output = new byte[expectedLength];
        try
        {
            using var input = new MemoryStream(compressed.ToArray());
            using Stream z = wrapped ? new ZLibStream(input, CompressionMode.Decompress) : new DeflateStream(input, CompressionMode.Decompress);
            var total = 0;
            while (total < expectedLength)
            {
                var n = z.Read(output, total, expectedLength - total);
                if (n == 0)
                {
                    break;
                }

                total += n;
            }

            if (total != expectedLength)
            {
                throw PayloadReader.Malformed($"{what}: decompressed to {total} bytes, {expectedLength} expected");
            }
        }
        catch (InvalidDataException ex)
        {
            throw MySqlException.Client(MySqlErrorCode.MalformedPacket, $"Malformed packet from the server: {what} does not decompress: {ex.Message}", ex);
        }

        return output;
    }

    // Formatted straight into the arena (20 digits and a sign at most).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private MySqlValue Number(long v)
    {
        Utf8Formatter.TryFormat(v, _arena.Reserve(24), out var n);
        return MySqlValue.FromBytes(_arena.Commit(n));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private MySqlValue Number(ulong v)
    {
        Utf8Formatter.TryFormat(v, _arena.Reserve(24), out var n);
        return MySqlValue.FromBytes(_arena.Commit(n));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private MySqlValue Text(string ascii) => MySqlValue.FromBytes(_arena.Copy(Encoding.UTF8.GetBytes(ascii)));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private MySqlValue Bytes(ReadOnlySpan<byte> data)
    {
        // Bytes inside a handed-over event buffer are referenced where they are; anything else is copied.
        var owned = _owned.Span;
        if (data.Length > 0 && owned.Length > 0)
        {
            var offset = Unsafe.ByteOffset(ref MemoryMarshal.GetReference(owned), ref MemoryMarshal.GetReference(data));
            if (offset >= 0 && offset <= owned.Length - data.Length)
            {
                return MySqlValue.FromBytes(_owned.Slice((int)offset, data.Length));
            }
        }

        return MySqlValue.FromBytes(_arena.Copy(data));
    }
}
