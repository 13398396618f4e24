namespace Durable.Routing;

/// <summary>How a name in a statement refers to a table (see <see cref="TableReference"/>).</summary>
internal enum TableRole : byte
{
    /// <summary>A table named where tables go (FROM, JOIN, INTO, UPDATE, DDL, LOCK TABLES, SHOW ... FROM).</summary>
    Table,
    /// <summary>A name in a multi-table DELETE's target list: an alias or a table of its references.</summary>
    DeleteTarget,
    /// <summary>The schema.table part of a column written schema.table.column.</summary>
    ColumnQualifier,
    /// <summary>A keyspace named alone (SHOW TABLES FROM ks): <see cref="TableReference.Name"/> is -1.</summary>
    KeyspaceOnly,
}

/// <summary>
/// A table (or keyspace) a statement names: the token indexes of its qualifier (-1 when unqualified) and of its name,
/// whether the statement writes it, which statement of a multi-statement text it is in, and whether an alias may be
/// added after it (a table factor of a query, UPDATE or multi-table DELETE written without alias or partition): a
/// table a rule renames then keeps its written name for the columns qualified with it.
/// </summary>
internal readonly record struct TableReference(int Qualifier, int Name, bool Writes, TableRole Role, int Part, bool CanAlias = false);
