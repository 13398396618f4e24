namespace Durable.MySql.Protocol;

/// <summary>Capability flags of the v10 handshake (the low 32 bits; MariaDB's extended bits live in the upper 32).</summary>
[Flags]
public enum Capabilities : ulong
{
    None = 0,
    LongPassword = 1,
    FoundRows = 1 << 1,
    LongFlag = 1 << 2,
    ConnectWithDb = 1 << 3,
    NoSchema = 1 << 4,
    Compress = 1 << 5,
    Odbc = 1 << 6,
    LocalFiles = 1 << 7,
    IgnoreSpace = 1 << 8,
    Protocol41 = 1 << 9,
    Interactive = 1 << 10,
    Ssl = 1 << 11,
    IgnoreSigpipe = 1 << 12,
    Transactions = 1 << 13,
    Reserved = 1 << 14,
    SecureConnection = 1 << 15,
    MultiStatements = 1 << 16,
    MultiResults = 1 << 17,
    PsMultiResults = 1 << 18,
    PluginAuth = 1 << 19,
    ConnectAttrs = 1 << 20,
    PluginAuthLengthEncodedClientData = 1 << 21,
    CanHandleExpiredPasswords = 1 << 22,
    SessionTrack = 1 << 23,
    DeprecateEof = 1 << 24,
}

/// <summary>Server status flags from OK/EOF packets.</summary>
[Flags]
public enum ServerStatus : ushort
{
    None = 0,
    InTransaction = 1,
    AutoCommit = 2,
    MoreResultsExist = 8,
    NoGoodIndexUsed = 0x10,
    NoIndexUsed = 0x20,
    CursorExists = 0x40,
    LastRowSent = 0x80,
    DbDropped = 0x100,
    NoBackslashEscapes = 0x200,
    MetadataChanged = 0x400,
    QueryWasSlow = 0x800,
    PsOutParams = 0x1000,
    InTransactionReadOnly = 0x2000,
    SessionStateChanged = 0x4000,
}

/// <summary>Command bytes of the client/server protocol.</summary>
public enum CommandKind : byte
{
    Quit = 0x01,
    InitDb = 0x02,
    Query = 0x03,
    Ping = 0x0E,
    BinlogDump = 0x12,
    RegisterSlave = 0x15,
    StmtPrepare = 0x16,
    StmtExecute = 0x17,
    StmtClose = 0x19,
    StmtReset = 0x1A,
    ResetConnection = 0x1F,
    BinlogDumpGtid = 0x1E,
}

/// <summary>An OK packet (or the OK-shaped end of a result set under CLIENT_DEPRECATE_EOF).</summary>
public readonly record struct OkPacket(ulong AffectedRows, ulong LastInsertId, ServerStatus Status, ushort Warnings, string Info)
{
    public static OkPacket Parse(ReadOnlySpan<byte> payload)
    {
        var r = new PayloadReader(payload);
        r.ReadByte(); // 0x00 or 0xFE
        var affected = r.ReadLengthEncoded();
        var insertId = r.ReadLengthEncoded();
        var status = r.Remaining >= 2 ? (ServerStatus)r.ReadUInt16() : ServerStatus.None;
        var warnings = r.Remaining >= 2 ? r.ReadUInt16() : (ushort)0;
        var info = r.Remaining > 0 ? System.Text.Encoding.UTF8.GetString(r.ReadRest()) : string.Empty;
        return new OkPacket(affected, insertId, status, warnings, info);
    }
}

public static class ErrPacket
{
    /// <summary>Turns an ERR packet (first byte 0xFF) into the exception that carries its number, SQLSTATE and message.</summary>
    public static MySqlException Parse(ReadOnlySpan<byte> payload)
    {
        var r = new PayloadReader(payload);
        r.ReadByte();
        var code = r.ReadUInt16();
        var state = "HY000";
        if (r.Remaining > 0 && r.Peek() == (byte)'#')
        {
            r.ReadByte();
            state = System.Text.Encoding.ASCII.GetString(r.ReadBytes(Math.Min(5, r.Remaining)));
        }

        var message = System.Text.Encoding.UTF8.GetString(r.ReadRest());
        return new MySqlException(code, state, message);
    }
}

public static class PacketKind
{
    public static bool IsOk(ReadOnlySpan<byte> p) => p.Length > 0 && p[0] == 0x00;

    public static bool IsErr(ReadOnlySpan<byte> p) => p.Length > 0 && p[0] == 0xFF;

    /// <summary>A classic EOF packet: 0xFE and shorter than 9 bytes (a row can start with 0xFE only when longer).</summary>
    public static bool IsEof(ReadOnlySpan<byte> p) => p.Length is > 0 and < 9 && p[0] == 0xFE;

    /// <summary>The OK packet that ends a result set when CLIENT_DEPRECATE_EOF is on: 0xFE and not a 16 MiB row.</summary>
    public static bool IsResultSetEnd(ReadOnlySpan<byte> p, bool deprecateEof) =>
        p.Length > 0 && p[0] == 0xFE && (deprecateEof ? p.Length < PacketChannel.MaxPacketPayload : p.Length < 9);
}
