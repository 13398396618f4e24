using Durable.Core.Positions;

namespace Durable.MySql.Binlog;

/// <summary>Binlog event type codes (MySQL numbering, plus MariaDB's from 160).</summary>
public enum BinlogEventType : byte
{
    Unknown = 0,
    StartV3 = 1,
    Query = 2,
    Stop = 3,
    Rotate = 4,
    Intvar = 5,
    Rand = 13,
    UserVar = 14,
    FormatDescription = 15,
    Xid = 16,
    TableMap = 19,
    WriteRowsV1 = 23,
    UpdateRowsV1 = 24,
    DeleteRowsV1 = 25,
    Incident = 26,
    Heartbeat = 27,
    RowsQuery = 29,
    WriteRowsV2 = 30,
    UpdateRowsV2 = 31,
    DeleteRowsV2 = 32,
    MySqlGtid = 33,
    MySqlAnonymousGtid = 34,
    PreviousGtids = 35,
    TransactionContext = 36,
    ViewChange = 37,
    XaPrepare = 38,
    PartialUpdateRows = 39,
    TransactionPayload = 40,
    HeartbeatV2 = 41,
    AnnotateRows = 160,
    BinlogCheckpoint = 161,
    MariaDbGtid = 162,
    GtidList = 163,
    StartEncryption = 164,
    QueryCompressed = 165,
    WriteRowsCompressedV1 = 166,
    UpdateRowsCompressedV1 = 167,
    DeleteRowsCompressedV1 = 168,
    WriteRowsCompressedV2 = 169,
    UpdateRowsCompressedV2 = 170,
    DeleteRowsCompressedV2 = 171,
}

/// <summary>The 19-byte header every event starts with.</summary>
public readonly record struct BinlogEventHeader(uint Timestamp, BinlogEventType Type, uint ServerId, uint EventSize, uint NextPosition, ushort Flags)
{
    public const int Size = 19;

    /// <summary>LOG_EVENT_ARTIFICIAL_F: made up by the dump thread (the first ROTATE), not read from a file.</summary>
    public bool IsArtificial => (Flags & 0x20) != 0;

    public DateTimeOffset Time => DateTimeOffset.FromUnixTimeSeconds(Timestamp);
}

public abstract record BinlogEvent(BinlogEventHeader Header);

public sealed record FormatDescriptionEvent(BinlogEventHeader Header, ushort BinlogVersion, string ServerVersion, byte ChecksumAlgorithm)
    : BinlogEvent(Header);

public sealed record RotateEvent(BinlogEventHeader Header, string FileName, ulong Position) : BinlogEvent(Header);

public sealed record QueryEvent(BinlogEventHeader Header, uint ThreadId, uint ExecutionSeconds, ushort ErrorCode, string Schema, string Sql)
    : BinlogEvent(Header);

public sealed record XidEvent(BinlogEventHeader Header, ulong Xid) : BinlogEvent(Header);

public sealed record TableMapEvent(BinlogEventHeader Header, TableMap Table) : BinlogEvent(Header);

public enum RowsEventKind
{
    Insert,
    Update,
    Delete,
}

/// <summary>
/// One row of a ROWS event. Insert: After only; Delete: Before only; Update: both. Values are
/// <see cref="MySqlValue"/>s in SELECT text form; columns missing from the image (see the event's bitmaps) are NULL.
/// </summary>
public sealed record RowChange(MySqlValue[]? Before, MySqlValue[]? After);

public sealed record RowsEvent(
    BinlogEventHeader Header,
    RowsEventKind Kind,
    TableMap Table,
    bool[] ColumnsPresent,
    bool[] ColumnsPresentAfter,
    IReadOnlyList<RowChange> Rows,
    ushort RowsFlags) : BinlogEvent(Header)
{
    /// <summary>STMT_END_F: the last ROWS event of its statement.</summary>
    public bool IsStatementEnd => (RowsFlags & 1) != 0;
}

/// <summary>A GTID event: MariaDB's starts every event group; MySQL's precedes every transaction.</summary>
public sealed record GtidEvent(BinlogEventHeader Header, Gtid Gtid, byte Flags, ulong? CommitId) : BinlogEvent(Header)
{
    /// <summary>MariaDB FL_STANDALONE: a single statement (DDL) without BEGIN/COMMIT around it.</summary>
    public bool IsStandalone => Gtid.Flavor == Core.Positions.GtidFlavor.MariaDb && (Flags & 1) != 0;
}

public sealed record GtidListEvent(BinlogEventHeader Header, IReadOnlyList<Gtid> Gtids) : BinlogEvent(Header);

public sealed record PreviousGtidsEvent(BinlogEventHeader Header, GtidPosition Position) : BinlogEvent(Header);

public sealed record AnnotateRowsEvent(BinlogEventHeader Header, string Sql) : BinlogEvent(Header);

public sealed record BinlogCheckpointEvent(BinlogEventHeader Header, string FileName) : BinlogEvent(Header);

/// <summary>Sent by the source when it has nothing to send for the heartbeat period: the stream is alive and caught up.</summary>
public sealed record HeartbeatEvent(BinlogEventHeader Header, string FileName) : BinlogEvent(Header);

/// <summary>An event this client does not interpret (INTVAR, USER_VAR...); it is surfaced so positions stay exact.</summary>
public sealed record OtherEvent(BinlogEventHeader Header) : BinlogEvent(Header);
