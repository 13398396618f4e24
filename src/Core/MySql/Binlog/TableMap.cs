using System.Runtime.CompilerServices;
using System.Text;
using Durable.MySql.Protocol;

namespace Durable.MySql.Binlog;

/// <summary>What a column's value is, beyond its binlog type, as far as rendering it is concerned.</summary>
public enum ExtendedColumnType
{
    None,
    MariaDbUuid,
    MariaDbInet4,
    MariaDbInet6,
}

/// <summary>One column of a TABLE_MAP event, with what the optional metadata (binlog_row_metadata=FULL) adds.</summary>
public sealed record BinlogColumn(int Index, ColumnType Type, ushort Metadata, bool Nullable)
{
    // The accessors the row decoder reads per value are forced inline (its methods exceed the JIT's inlining budget).
    public ColumnType Type { [MethodImpl(MethodImplOptions.AggressiveInlining)] get; init; } = Type;

    public ushort Metadata { [MethodImpl(MethodImplOptions.AggressiveInlining)] get; init; } = Metadata;

    /// <summary>The column type as the table defines it: for STRING this reveals ENUM and SET.</summary>
    public ColumnType RealType { [MethodImpl(MethodImplOptions.AggressiveInlining)] get; internal set; } = Type;

    public string? Name { get; internal set; }

    public bool Unsigned { [MethodImpl(MethodImplOptions.AggressiveInlining)] get; internal set; }

    /// <summary>Collation id for character columns (63 = binary), when the metadata carries it.</summary>
    public int? Collation { [MethodImpl(MethodImplOptions.AggressiveInlining)] get; internal set; }

    public IReadOnlyList<string>? EnumValues { get; internal set; }

    public IReadOnlyList<string>? SetValues { get; internal set; }

    public bool IsPrimaryKey { get; internal set; }

    public ExtendedColumnType Extended { [MethodImpl(MethodImplOptions.AggressiveInlining)] get; internal set; }

    public bool IsBinary
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Collation == MySqlColumn.BinaryCharacterSet;
    }
}

/// <summary>A TABLE_MAP event: the table id used by the following ROWS events, the table's name and its columns.</summary>
public sealed class TableMap
{
    public TableMap(ulong tableId, string schema, string table, IReadOnlyList<BinlogColumn> columns, ushort flags)
    {
        TableId = tableId;
        Schema = schema;
        Table = table;
        ColumnArray = columns as BinlogColumn[] ?? [.. columns];
        Columns = ColumnArray;
        Flags = flags;
    }

    /// <summary>The columns as an array: the row decoder indexes them per value, without interface calls.</summary>
    internal BinlogColumn[] ColumnArray { get; }

    public ulong TableId { get; }

    public string Schema { get; }

    public string Table { get; }

    public IReadOnlyList<BinlogColumn> Columns { get; }

    public ushort Flags { get; }

    /// <summary>True when the event carried column names (binlog_row_metadata=FULL).</summary>
    public bool HasColumnNames => Columns.All(c => c.Name is not null);

    public IReadOnlyList<int> PrimaryKey => Columns.Where(c => c.IsPrimaryKey).Select(c => c.Index).ToArray();

    public override string ToString() => $"{Schema}.{Table} (table id {TableId}, {Columns.Count} columns)";

    /// <summary>Parses the event body (after the common header; checksum already removed).</summary>
    public static TableMap Parse(ReadOnlySpan<byte> body, int postHeaderLength)
    {
        var r = new PayloadReader(body);
        var tableId = postHeaderLength == 6 ? r.ReadUInt32() : r.ReadUInt48();
        var flags = r.ReadUInt16();
        var schemaLength = r.ReadByte();
        var schema = Encoding.UTF8.GetString(r.ReadBytes(schemaLength));
        r.ReadByte();
        var tableLength = r.ReadByte();
        var table = Encoding.UTF8.GetString(r.ReadBytes(tableLength));
        r.ReadByte();
        var count = r.ReadLengthEncodedInt32();
        var types = r.ReadBytes(count);
        var metaLength = r.ReadLengthEncodedInt32();
        var meta = new PayloadReader(r.ReadBytes(metaLength));
        var nullBits = r.ReadBytes((count + 7) / 8);
        var columns = new BinlogColumn[count];
        for (var i = 0; i < count; i++)
        {
            var type = (ColumnType)types[i];
            ushort m = 0;
            switch (type)
            {
                case ColumnType.Float or ColumnType.Double or ColumnType.Blob or ColumnType.Geometry or ColumnType.Json or
                    ColumnType.Timestamp2 or ColumnType.DateTime2 or ColumnType.Time2 or ColumnType.BlobCompressed or
                    ColumnType.TinyBlob or ColumnType.MediumBlob or ColumnType.LongBlob:
                    m = meta.ReadByte();
                    break;
                case ColumnType.VarChar or ColumnType.VarString or ColumnType.VarCharCompressed:
                    m = meta.ReadUInt16();
                    break;
                case ColumnType.Bit or ColumnType.NewDecimal or ColumnType.String or ColumnType.Enum or ColumnType.Set:
                    // Two bytes kept in the order they are stored: first byte in the high half.
                    m = (ushort)(meta.ReadByte() << 8);
                    m |= meta.ReadByte();
                    break;
            }

            columns[i] = new BinlogColumn(i, type, m, (nullBits[i / 8] & (1 << (i % 8))) != 0);
            if (type == ColumnType.String && m >> 8 is (byte)ColumnType.Enum or (byte)ColumnType.Set)
            {
                columns[i].RealType = (ColumnType)(m >> 8);
            }
            else if (type is ColumnType.Enum or ColumnType.Set)
            {
                columns[i].RealType = type;
            }
        }

        if (meta.Remaining != 0)
        {
            throw PayloadReader.Malformed($"TABLE_MAP for {schema}.{table}: {meta.Remaining} metadata bytes left over");
        }

        ParseOptionalMetadata(ref r, columns, $"{schema}.{table}");
        return new TableMap(tableId, schema, table, columns, flags);
    }

    private static bool IsNumeric(ColumnType t) => t is ColumnType.Tiny or ColumnType.Short or ColumnType.Int24 or ColumnType.Long or
        ColumnType.LongLong or ColumnType.NewDecimal or ColumnType.Float or ColumnType.Double;

    private static bool IsCharacter(BinlogColumn c) =>
        c.RealType is not (ColumnType.Enum or ColumnType.Set) &&
        c.Type is ColumnType.String or ColumnType.VarString or ColumnType.VarChar or ColumnType.Blob or ColumnType.Geometry or
            ColumnType.VarCharCompressed or ColumnType.BlobCompressed;

    private static bool IsEnumOrSet(BinlogColumn c) => c.RealType is ColumnType.Enum or ColumnType.Set;

    private static void ParseOptionalMetadata(ref PayloadReader r, BinlogColumn[] columns, string table)
    {
        while (r.Remaining > 0)
        {
            var kind = r.ReadByte();
            var length = r.ReadLengthEncodedInt32();
            var v = new PayloadReader(r.ReadBytes(length));
            switch (kind)
            {
                case 1: // SIGNEDNESS: one bit per numeric column, most significant bit first; 1 = unsigned
                {
                    var n = 0;
                    foreach (var c in columns.Where(c => IsNumeric(c.Type)))
                    {
                        var bits = v.Data;
                        if (n / 8 < bits.Length)
                        {
                            c.Unsigned = (bits[n / 8] & (0x80 >> (n % 8))) != 0;
                        }

                        n++;
                    }

                    break;
                }

                case 2: // DEFAULT_CHARSET: default collation, then (column position among character columns, collation) pairs
                case 10: // ENUM_AND_SET_DEFAULT_CHARSET
                {
                    var targets = columns.Where(kind == 2 ? IsCharacter : IsEnumOrSet).ToArray();
                    var defaultCollation = v.ReadLengthEncodedInt32();
                    foreach (var c in targets)
                    {
                        c.Collation = defaultCollation;
                    }

                    while (v.Remaining > 0)
                    {
                        var position = v.ReadLengthEncodedInt32();
                        var collation = v.ReadLengthEncodedInt32();
                        if (position < targets.Length)
                        {
                            targets[position].Collation = collation;
                        }
                    }

                    break;
                }

                case 3: // COLUMN_CHARSET: a collation per character column
                case 11: // ENUM_AND_SET_COLUMN_CHARSET
                {
                    foreach (var c in columns.Where(kind == 3 ? IsCharacter : IsEnumOrSet))
                    {
                        c.Collation = v.ReadLengthEncodedInt32();
                    }

                    break;
                }

                case 4: // COLUMN_NAME
                    foreach (var c in columns)
                    {
                        c.Name = Encoding.UTF8.GetString(v.ReadLengthEncodedBytes());
                    }

                    break;
                case 5: // SET_STR_VALUE
                case 6: // ENUM_STR_VALUE
                {
                    foreach (var c in columns.Where(c => c.RealType == (kind == 5 ? ColumnType.Set : ColumnType.Enum)))
                    {
                        var n = v.ReadLengthEncodedInt32();
                        var values = new string[n];
                        for (var i = 0; i < n; i++)
                        {
                            values[i] = Encoding.UTF8.GetString(v.ReadLengthEncodedBytes());
                        }

                        if (kind == 5)
                        {
                            c.SetValues = values;
                        }
                        else
                        {
                            c.EnumValues = values;
                        }
                    }

                    break;
                }

                case 8: // SIMPLE_PRIMARY_KEY
                    while (v.Remaining > 0)
                    {
                        var index = v.ReadLengthEncodedInt32();
                        if (index < columns.Length)
                        {
                            columns[index].IsPrimaryKey = true;
                        }
                    }

                    break;
                case 9: // PRIMARY_KEY_WITH_PREFIX
                    while (v.Remaining > 0)
                    {
                        var index = v.ReadLengthEncodedInt32();
                        v.ReadLengthEncoded();
                        if (index < columns.Length)
                        {
                            columns[index].IsPrimaryKey = true;
                        }
                    }

                    break;
                default:
                    // GEOMETRY_TYPE, COLUMN_VISIBILITY and future kinds do not change how values are rendered.
                    break;
            }
        }

        _ = table;
    }
}
