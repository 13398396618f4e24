namespace Durable.MySql;

/// <summary>The field types of the MySQL protocol (result set column definitions and binlog TABLE_MAP).</summary>
public enum ColumnType : byte
{
    Decimal = 0,
    Tiny = 1,
    Short = 2,
    Long = 3,
    Float = 4,
    Double = 5,
    Null = 6,
    Timestamp = 7,
    LongLong = 8,
    Int24 = 9,
    Date = 10,
    Time = 11,
    DateTime = 12,
    Year = 13,
    NewDate = 14,
    VarChar = 15,
    Bit = 16,
    Timestamp2 = 17,
    DateTime2 = 18,
    Time2 = 19,
    BlobCompressed = 140,     // MariaDB COMPRESSED column (binlog only)
    VarCharCompressed = 141,  // MariaDB COMPRESSED column (binlog only)
    Json = 245,
    NewDecimal = 246,
    Enum = 247,
    Set = 248,
    TinyBlob = 249,
    MediumBlob = 250,
    LongBlob = 251,
    Blob = 252,
    VarString = 253,
    String = 254,
    Geometry = 255,
}

/// <summary>Column definition flags.</summary>
[Flags]
public enum ColumnFlags : ushort
{
    None = 0,
    NotNull = 1,
    PrimaryKey = 2,
    UniqueKey = 4,
    MultipleKey = 8,
    Blob = 0x10,
    Unsigned = 0x20,
    ZeroFill = 0x40,
    Binary = 0x80,
    Enum = 0x100,
    AutoIncrement = 0x200,
    Timestamp = 0x400,
    Set = 0x800,
    Num = 0x8000,
}

/// <summary>One column of a result set.</summary>
public sealed record MySqlColumn(
    string Schema,
    string Table,
    string OrgTable,
    string Name,
    string OrgName,
    int CharacterSet,
    uint Length,
    ColumnType Type,
    ColumnFlags Flags,
    byte Decimals)
{
    /// <summary>The collation id of binary strings: values of such columns are bytes, not text.</summary>
    public const int BinaryCharacterSet = 63;

    public bool IsUnsigned => (Flags & ColumnFlags.Unsigned) != 0;

    public bool IsBinary => CharacterSet == BinaryCharacterSet;

    /// <summary>Reads a column definition packet (protocol 4.1).</summary>
    public static MySqlColumn Parse(ReadOnlySpan<byte> payload)
    {
        var r = new Protocol.PayloadReader(payload);
        r.ReadLengthEncodedBytes(); // catalog "def"
        var schema = r.ReadLengthEncodedString();
        var table = r.ReadLengthEncodedString();
        var orgTable = r.ReadLengthEncodedString();
        var name = r.ReadLengthEncodedString();
        var orgName = r.ReadLengthEncodedString();
        r.ReadLengthEncoded(); // length of the fixed fields (0x0C)
        var charset = r.ReadUInt16();
        var length = r.ReadUInt32();
        var type = (ColumnType)r.ReadByte();
        var flags = (ColumnFlags)r.ReadUInt16();
        var decimals = r.ReadByte();
        return new MySqlColumn(schema, table, orgTable, name, orgName, charset, length, type, flags, decimals);
    }
}
