namespace Durable.Routing;

/// <summary>
/// Finds, in a statement's tokens, what routing needs: each statement's kind and session effects, every table it names
/// (with its position, qualifier and whether it is written) and every DATABASE()/SCHEMA() call. It is not a full SQL
/// parser: expressions are skipped by balanced parentheses, but every subquery inside them (and every FROM, JOIN,
/// REFERENCES, CTE and schema-qualified column) is found. What it cannot analyse with certainty is refused with 1064 and
/// the position, never guessed. One instance per thread (<see cref="ForThread"/>): its lists are reused, so analysing
/// a statement allocates nothing once they have grown.
/// </summary>
internal sealed class StatementAnalyzer
{
    [ThreadStatic]
    private static StatementAnalyzer? _forThread;

    private const int MaxKeptTokens = 16_384;

    private string _sql = string.Empty;
    private int _p;

    // The statement being analysed.
    private StatementKind _kind;
    private bool _writes;
    private SessionEffects _effects;
    private LocalCommand _local;
    private int _useStart;
    private int _useEnd;
    private string? _needsKeyspace;
    private bool _inAlterTable;

    public List<SqlToken> Tokens { get; } = new(64);

    public List<TableReference> Tables { get; } = new(8);

    public List<StatementPart> Parts { get; } = new(2);

    /// <summary>Token index of each DATABASE/SCHEMA name of a DATABASE()/SCHEMA() call; the call ends two tokens later.</summary>
    public List<int> DatabaseCalls { get; } = new(1);

    /// <summary>Token indexes of table aliases and common table expression names (names that are not tables).</summary>
    public List<int> Aliases { get; } = new(4);

    public List<int> CteNames { get; } = new(1);

    /// <summary>
    /// Token indexes of the values compared with an information_schema schema column (<c>TABLE_SCHEMA = 'commerce'</c>,
    /// <c>SCHEMA_NAME = DATABASE()</c>): a string literal, or the DATABASE/SCHEMA name of a call.
    /// </summary>
    public List<int> SchemaValues { get; } = new(1);

    public static StatementAnalyzer ForThread() => _forThread ??= new StatementAnalyzer();

    public void Analyze(string sql)
    {
        if (Tokens.Capacity > MaxKeptTokens)
        {
            // One huge statement (a bulk INSERT) must not keep its token buffer alive on this thread forever.
            Tokens.Clear();
            Tokens.Capacity = 64;
        }

        _sql = sql;
        _p = 0;
        Tables.Clear();
        Parts.Clear();
        DatabaseCalls.Clear();
        Aliases.Clear();
        CteNames.Clear();
        SchemaValues.Clear();
        SqlLexer.Tokenize(sql, Tokens);
        while (Cur.Kind != SqlTokenKind.End)
        {
            if (Cur.Kind == SqlTokenKind.Semicolon)
            {
                _p++;
                continue;
            }

            var first = _p;
            _kind = StatementKind.Select;
            _writes = false;
            _effects = SessionEffects.None;
            _local = LocalCommand.None;
            _useStart = -1;
            _useEnd = -1;
            _needsKeyspace = null;
            _inAlterTable = false;
            Statement();
            if (Cur.Kind is not (SqlTokenKind.Semicolon or SqlTokenKind.End))
            {
                throw Syntax(Cur, "expected the end of the statement (or ';' before the next one)");
            }

            Parts.Add(new StatementPart(_kind, _writes, _effects, _local, _useStart, _useEnd, _needsKeyspace, first));
        }

        if (Parts.Count == 0)
        {
            throw new GatewaySqlException(1065, "42000", "Query was empty");
        }
    }

    /// <summary>Drops the reference to the last statement's text (the router is done with it).</summary>
    public void Release() => _sql = string.Empty;

    private SqlToken Cur => Tokens[Math.Min(_p, Tokens.Count - 1)];

    private SqlToken Peek(int ahead) => Tokens[Math.Min(_p + ahead, Tokens.Count - 1)];

    private GatewaySqlException Syntax(SqlToken at, string problem) => SqlErrors.Syntax(_sql, at.Start, problem);

    private string Word(SqlToken token) => _sql.Substring(token.Start, token.Length);

    private bool IsText(SqlToken token, string text) =>
        token.Kind == SqlTokenKind.Identifier && _sql.AsSpan(token.Start, token.Length).Equals(text, StringComparison.OrdinalIgnoreCase);

    private void Expect(SqlTokenKind kind, string what)
    {
        if (Cur.Kind != kind)
        {
            throw Syntax(Cur, $"expected {what}");
        }

        _p++;
    }

    private void Expect(SqlKeyword keyword)
    {
        if (!Cur.Is(keyword))
        {
            throw Syntax(Cur, $"expected {keyword.ToString().ToUpperInvariant()}");
        }

        _p++;
    }

    private bool Accept(SqlKeyword keyword)
    {
        if (Cur.Is(keyword))
        {
            _p++;
            return true;
        }

        return false;
    }

    private void Statement()
    {
        var head = Cur;
        if (head.Kind == SqlTokenKind.LeftParen)
        {
            Scan(Stop.None, queryLevel: false);
            return;
        }

        if (head.Kind != SqlTokenKind.Identifier)
        {
            throw Syntax(head, "a statement must start with a keyword such as SELECT, INSERT, UPDATE, DELETE, SET, USE or SHOW");
        }

        switch (head.Keyword)
        {
            case SqlKeyword.Select or SqlKeyword.With:
                Scan(Stop.None, queryLevel: false);
                return;
            case SqlKeyword.Insert or SqlKeyword.Replace:
                Insert();
                return;
            case SqlKeyword.Update:
                Update();
                return;
            case SqlKeyword.Delete:
                Delete();
                return;
            case SqlKeyword.Create:
                Create();
                return;
            case SqlKeyword.Alter:
                Alter();
                return;
            case SqlKeyword.Drop:
                Drop();
                return;
            case SqlKeyword.Truncate:
                _p++;
                Accept(SqlKeyword.Table);
                Ddl();
                TableName(writes: true);
                return;
            case SqlKeyword.Rename:
                Rename();
                return;
            case SqlKeyword.Set:
                Set();
                return;
            case SqlKeyword.Use:
                Use();
                return;
            case SqlKeyword.Begin:
                _p++;
                Accept(SqlKeyword.Work);
                _kind = StatementKind.Begin;
                _effects |= SessionEffects.BeginsTransaction;
                return;
            case SqlKeyword.Start:
                StartTransaction();
                return;
            case SqlKeyword.Commit:
                _p++;
                Accept(SqlKeyword.Work);
                _kind = StatementKind.Commit;
                _effects |= SessionEffects.EndsTransaction;
                return;
            case SqlKeyword.Rollback:
                Rollback();
                return;
            case SqlKeyword.Savepoint:
                _p++;
                SavepointName();
                return;
            case SqlKeyword.Release:
                _p++;
                Expect(SqlKeyword.Savepoint);
                SavepointName();
                return;
            case SqlKeyword.Show:
                Show();
                return;
            case SqlKeyword.Describe or SqlKeyword.Desc or SqlKeyword.Explain:
                Describe();
                return;
            case SqlKeyword.Lock:
                LockTables();
                return;
            case SqlKeyword.Unlock:
                _p++;
                if (!Accept(SqlKeyword.Tables) && !Accept(SqlKeyword.Table))
                {
                    throw Syntax(Cur, "expected TABLES after UNLOCK");
                }

                _kind = StatementKind.UnlockTables;
                _effects |= SessionEffects.UnlockTables;
                return;
            case SqlKeyword.Do:
                _p++;
                Scan(Stop.None, queryLevel: false);
                return;
            case SqlKeyword.Checksum or SqlKeyword.Check:
                _p++;
                TableList(SqlKeyword.Table, writes: false);
                return;
            case SqlKeyword.Analyze or SqlKeyword.Optimize or SqlKeyword.Repair:
                _p++;
                if (IsText(Cur, "NO_WRITE_TO_BINLOG") || Cur.Is(SqlKeyword.Local))
                {
                    _p++;
                }

                Ddl();
                TableList(SqlKeyword.Table, writes: true);
                return;
            case SqlKeyword.Xa:
                throw SqlErrors.Unsupported("XA", "distributed transactions would span the gateway's backend connections; use BEGIN/COMMIT on one keyspace");
            case SqlKeyword.Kill:
                throw SqlErrors.Unsupported("KILL", "connection ids are the gateway's own, not the tablets'; close the connection instead");
            case SqlKeyword.Call or SqlKeyword.Load or SqlKeyword.Handler or SqlKeyword.Prepare or SqlKeyword.Execute or SqlKeyword.Deallocate
                or SqlKeyword.Flush or SqlKeyword.Grant or SqlKeyword.Revoke:
                throw SqlErrors.Unsupported(Word(head).ToUpperInvariant(), "the gateway routes queries, DML, table DDL, SET, USE, transactions, SHOW and DESCRIBE only (prepared statements through the binary protocol)");
            default:
                throw Syntax(head, "unknown statement");
        }
    }

    private void Ddl()
    {
        _kind = StatementKind.Ddl;
        _writes = true;
        _effects |= SessionEffects.ImplicitCommit;
    }

    /// <summary>How far <see cref="Scan"/> goes: to the end of its level, or also to a top-level comma or clause keyword.</summary>
    [Flags]
    private enum Stop
    {
        None = 0,
        Comma = 1,
        Clause = 2,
    }

    /// <summary>
    /// Walks one level of tokens (to the ')' that closes it, not consumed, or to ';'/the end at the top), finding the
    /// tables of every query block in it: a FROM after a SELECT of the same level starts table references; a '('
    /// opens a nested level (a subquery or a function's arguments: only a SELECT in it makes its FROM a table clause).
    /// </summary>
    private void Scan(Stop stop, bool queryLevel)
    {
        // In a select list, names follow each other at most as 'expression alias': a third name in a row means the
        // text is not what it seems (SELECT email FORM customer), and is refused rather than sent on.
        var selectList = false;
        var names = 0;
        while (true)
        {
            var token = Cur;
            if (selectList)
            {
                names = NamesInARow(token, names);
                if (names >= 3)
                {
                    throw Syntax(Tokens[_p - 1], "expected ',' or FROM between the select list's expressions");
                }
            }

            switch (token.Kind)
            {
                case SqlTokenKind.End or SqlTokenKind.Semicolon or SqlTokenKind.RightParen:
                    return;
                case SqlTokenKind.Comma when (stop & Stop.Comma) != 0:
                    return;
                case SqlTokenKind.LeftParen:
                    _p++;
                    Scan(Stop.None, queryLevel: false);
                    Expect(SqlTokenKind.RightParen, "')' to close the '('");
                    names = 1;
                    continue;
                case SqlTokenKind.UserVariable:
                    _p++;
                    if (Cur.Kind == SqlTokenKind.Assign)
                    {
                        _effects |= SessionEffects.UserVariable;
                    }

                    continue;
                case SqlTokenKind.Identifier or SqlTokenKind.QuotedIdentifier:
                    break;
                default:
                    _p++;
                    continue;
            }

            var next = Peek(1);
            if (token.Kind == SqlTokenKind.Identifier && next.Kind != SqlTokenKind.Dot)
            {
                // LEFT( and RIGHT( are functions, not joins.
                var call = next.Kind == SqlTokenKind.LeftParen;
                if ((stop & Stop.Clause) != 0 && EndsExpression(token.Keyword) && !(call && token.Keyword is SqlKeyword.Left or SqlKeyword.Right))
                {
                    return;
                }

                switch (token.Keyword)
                {
                    case SqlKeyword.Select:
                        queryLevel = true;
                        selectList = true;
                        names = 0;
                        _p++;
                        continue;
                    case SqlKeyword.With when (next.IsName && (Peek(2).Is(SqlKeyword.As) || Peek(2).Kind == SqlTokenKind.LeftParen)) || next.Is(SqlKeyword.Recursive):
                        With();
                        continue;
                    case SqlKeyword.From when queryLevel:
                        selectList = false;
                        _p++;
                        TableReferences(writes: false);
                        continue;
                    case SqlKeyword.Into when queryLevel:
                        SelectInto();
                        continue;
                    case SqlKeyword.For when next.Is(SqlKeyword.Update):
                        // SELECT ... FOR UPDATE takes write locks: a write as far as routing goes (primary only, held at cutover).
                        _writes = true;
                        _p += 2;
                        continue;
                    case SqlKeyword.References:
                        _p++;
                        TableName(writes: false);
                        continue;
                    case SqlKeyword.Rename when _inAlterTable:
                        AlterRename();
                        continue;
                    case SqlKeyword.Join or SqlKeyword.StraightJoin:
                        throw Syntax(token, "JOIN outside a FROM clause");
                }
            }

            if (next.Kind == SqlTokenKind.LeftParen)
            {
                Function(token);
                _p++;
                continue;
            }

            if (next.Kind == SqlTokenKind.Operator && next.Length == 1 && _sql[next.Start] == '=' && IsSchemaColumn(token))
            {
                var value = Peek(2);
                if (value.Kind == SqlTokenKind.String
                    || ((value.Is(SqlKeyword.Database) || value.Is(SqlKeyword.Schema)) && Peek(3).Kind == SqlTokenKind.LeftParen && Peek(4).Kind == SqlTokenKind.RightParen))
                {
                    SchemaValues.Add(_p + 2);
                }
            }

            if (next.Kind == SqlTokenKind.Dot && Peek(2).IsName && Peek(3).Kind == SqlTokenKind.Dot && (Peek(4).IsName || Peek(4).Kind == SqlTokenKind.Star))
            {
                // schema.table.column: the schema and table are routed and rewritten like the table they name.
                Tables.Add(new TableReference(_p, _p + 2, false, TableRole.ColumnQualifier, Parts.Count));
                _p += 5;
                continue;
            }

            _p++;
        }
    }

    /// <summary>
    /// How many operands stand in a row once <paramref name="token"/> is read: a name (not a keyword, not a function
    /// or qualifier) or a literal, a ')' or a lone '*' continue a run; operators, commas and keywords end it.
    /// </summary>
    private int NamesInARow(SqlToken token, int names)
    {
        switch (token.Kind)
        {
            case SqlTokenKind.Identifier when token.Keyword == SqlKeyword.None:
            case SqlTokenKind.QuotedIdentifier:
                var next = Peek(1).Kind;
                return next is SqlTokenKind.LeftParen or SqlTokenKind.Dot ? 0 : names + 1;
            case SqlTokenKind.Number or SqlTokenKind.String or SqlTokenKind.Placeholder or SqlTokenKind.UserVariable or SqlTokenKind.SystemVariable:
                return 1;
            case SqlTokenKind.Star:
                var before = Tokens[_p - 1];
                return before.Is(SqlKeyword.Select) || before.Kind is SqlTokenKind.Comma or SqlTokenKind.Dot ? 1 : 0;
            default:
                return 0;
        }
    }

    /// <summary>information_schema's columns that hold a database name (vtgate rewrites what they are compared with).</summary>
    private bool IsSchemaColumn(SqlToken token)
    {
        var name = token.NameSpan(_sql);
        return name.Equals("TABLE_SCHEMA", StringComparison.OrdinalIgnoreCase) || name.Equals("SCHEMA_NAME", StringComparison.OrdinalIgnoreCase)
            || name.Equals("CONSTRAINT_SCHEMA", StringComparison.OrdinalIgnoreCase) || name.Equals("REFERENCED_TABLE_SCHEMA", StringComparison.OrdinalIgnoreCase)
            || name.Equals("TRIGGER_SCHEMA", StringComparison.OrdinalIgnoreCase) || name.Equals("INDEX_SCHEMA", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Keywords that end an ON condition or a SET value at their level.</summary>
    private static bool EndsExpression(SqlKeyword k) => k is SqlKeyword.Join or SqlKeyword.Inner or SqlKeyword.Cross or SqlKeyword.Left
        or SqlKeyword.Right or SqlKeyword.Natural or SqlKeyword.StraightJoin or SqlKeyword.Full or SqlKeyword.Where or SqlKeyword.Group
        or SqlKeyword.Having or SqlKeyword.Order or SqlKeyword.Limit or SqlKeyword.Window or SqlKeyword.Union or SqlKeyword.Except
        or SqlKeyword.Intersect or SqlKeyword.For or SqlKeyword.Lock or SqlKeyword.Into or SqlKeyword.Set or SqlKeyword.Returning
        or SqlKeyword.On or SqlKeyword.Using;

    /// <summary>Words that cannot be a table alias (they start the next clause).</summary>
    private static bool Reserved(SqlKeyword k) => EndsExpression(k) || k is SqlKeyword.Select or SqlKeyword.From or SqlKeyword.As
        or SqlKeyword.Values or SqlKeyword.Value or SqlKeyword.Use or SqlKeyword.Ignore or SqlKeyword.Force or SqlKeyword.Partition
        or SqlKeyword.With or SqlKeyword.Read or SqlKeyword.Write or SqlKeyword.LowPriority or SqlKeyword.Outer or SqlKeyword.Like
        or SqlKeyword.Key or SqlKeyword.Index or SqlKeyword.Table or SqlKeyword.Where or SqlKeyword.Procedure or SqlKeyword.Dual;

    private void Function(SqlToken name)
    {
        if (name.Kind != SqlTokenKind.Identifier)
        {
            return;
        }

        switch (name.Keyword)
        {
            case SqlKeyword.GetLock or SqlKeyword.ReleaseLock or SqlKeyword.IsFreeLock or SqlKeyword.IsUsedLock or SqlKeyword.ReleaseAllLocks:
                _effects |= SessionEffects.AdvisoryLock;
                return;
            case SqlKeyword.Database or SqlKeyword.Schema when Peek(2).Kind == SqlTokenKind.RightParen:
                DatabaseCalls.Add(_p);
                return;
        }
    }

    private void With()
    {
        _p++;
        Accept(SqlKeyword.Recursive);
        while (true)
        {
            if (!Cur.IsName)
            {
                throw Syntax(Cur, "expected a common table expression's name after WITH");
            }

            CteNames.Add(_p);
            _p++;
            if (Cur.Kind == SqlTokenKind.LeftParen)
            {
                SkipParenthesized();
            }

            Expect(SqlKeyword.As);
            Expect(SqlTokenKind.LeftParen, "'(' and the common table expression's query");
            Scan(Stop.None, queryLevel: false);
            Expect(SqlTokenKind.RightParen, "')' to close the common table expression");
            if (Cur.Kind != SqlTokenKind.Comma)
            {
                return;
            }

            _p++;
        }
    }

    private void SelectInto()
    {
        _p++;
        if (Cur.Is(SqlKeyword.Outfile) || Cur.Is(SqlKeyword.Dumpfile))
        {
            throw SqlErrors.Unsupported("SELECT ... INTO " + Word(Cur).ToUpperInvariant(), "it writes a file on the tablet's host");
        }

        while (Cur.Kind == SqlTokenKind.UserVariable)
        {
            _effects |= SessionEffects.UserVariable;
            _p++;
            if (Cur.Kind != SqlTokenKind.Comma)
            {
                return;
            }

            _p++;
        }

        throw Syntax(Cur, "expected @variable after INTO");
    }

    /// <summary>table_reference [, table_reference | JOIN table_factor [ON expr | USING (cols)]]...</summary>
    private void TableReferences(bool writes)
    {
        TableFactor(writes);
        while (true)
        {
            if (Cur.Kind == SqlTokenKind.Comma)
            {
                _p++;
                TableFactor(writes);
                continue;
            }

            if (!JoinOperator())
            {
                return;
            }

            TableFactor(writes);
            if (Accept(SqlKeyword.On))
            {
                Scan(Stop.Comma | Stop.Clause, queryLevel: false);
            }
            else if (Accept(SqlKeyword.Using))
            {
                if (Cur.Kind != SqlTokenKind.LeftParen)
                {
                    throw Syntax(Cur, "expected '(' and column names after USING");
                }

                SkipParenthesized();
            }
        }
    }

    private bool JoinOperator()
    {
        var start = _p;
        if (Cur.Kind != SqlTokenKind.Identifier || ((Cur.Is(SqlKeyword.Left) || Cur.Is(SqlKeyword.Right)) && Peek(1).Kind == SqlTokenKind.LeftParen))
        {
            return false;
        }

        if (Accept(SqlKeyword.StraightJoin))
        {
            return true;
        }

        Accept(SqlKeyword.Natural);
        if (!Accept(SqlKeyword.Inner) && !Accept(SqlKeyword.Cross))
        {
            if (Accept(SqlKeyword.Left) || Accept(SqlKeyword.Right) || Accept(SqlKeyword.Full))
            {
                Accept(SqlKeyword.Outer);
            }
        }

        if (Accept(SqlKeyword.Join))
        {
            return true;
        }

        if (_p != start)
        {
            throw Syntax(Cur, "expected JOIN");
        }

        return false;
    }

    private void TableFactor(bool writes)
    {
        if (Cur.Kind == SqlTokenKind.LeftParen)
        {
            var inner = 1;
            while (Peek(inner).Kind == SqlTokenKind.LeftParen)
            {
                inner++;
            }

            var first = Peek(inner);
            _p++;
            if (first.Is(SqlKeyword.Select) || first.Is(SqlKeyword.With))
            {
                // A derived table: (query) [AS] alias [(columns)].
                Scan(Stop.None, queryLevel: false);
                Expect(SqlTokenKind.RightParen, "')' to close the derived table");
                Alias();
                if (Cur.Kind == SqlTokenKind.LeftParen)
                {
                    SkipParenthesized();
                }

                return;
            }

            TableReferences(writes);
            Expect(SqlTokenKind.RightParen, "')' to close the table references");
            return;
        }

        if (Accept(SqlKeyword.Dual))
        {
            return;
        }

        if (Cur.Is(SqlKeyword.Lateral))
        {
            throw SqlErrors.Unsupported("LATERAL", "MariaDB has no lateral derived tables");
        }

        if (Cur.Kind == SqlTokenKind.Identifier && Peek(1).Kind == SqlTokenKind.LeftParen)
        {
            throw SqlErrors.Unsupported("the table function " + Word(Cur), "only tables, derived tables and joins are routed in FROM");
        }

        var table = TableName(writes);
        if (Cur.Is(SqlKeyword.Partition))
        {
            _p++;
            SkipParenthesized();
            Alias();
        }
        else
        {
            var aliases = Aliases.Count;
            Alias();
            if (Aliases.Count == aliases)
            {
                Tables[table] = Tables[table] with { CanAlias = true };
            }
        }

        IndexHints();
    }

    private void Alias()
    {
        if (Accept(SqlKeyword.As))
        {
            if (!Cur.IsName && Cur.Kind != SqlTokenKind.String)
            {
                throw Syntax(Cur, "expected an alias after AS");
            }

            Aliases.Add(_p);
            _p++;
            return;
        }

        if (Cur.Kind == SqlTokenKind.QuotedIdentifier || (Cur.Kind == SqlTokenKind.Identifier && !Reserved(Cur.Keyword)))
        {
            Aliases.Add(_p);
            _p++;
        }
    }

    /// <summary>{USE|IGNORE|FORCE} {INDEX|KEY} [FOR {JOIN|ORDER BY|GROUP BY}] (names), repeated.</summary>
    private void IndexHints()
    {
        while ((Cur.Is(SqlKeyword.Use) || Cur.Is(SqlKeyword.Ignore) || Cur.Is(SqlKeyword.Force)) && (Peek(1).Is(SqlKeyword.Index) || Peek(1).Is(SqlKeyword.Key)))
        {
            _p += 2;
            if (Accept(SqlKeyword.For))
            {
                if (!Accept(SqlKeyword.Join))
                {
                    if (!Accept(SqlKeyword.Order) && !Accept(SqlKeyword.Group))
                    {
                        throw Syntax(Cur, "expected JOIN, ORDER BY or GROUP BY after FOR");
                    }

                    Expect(SqlKeyword.By);
                }
            }

            if (Cur.Kind != SqlTokenKind.LeftParen)
            {
                throw Syntax(Cur, "expected '(' and index names");
            }

            SkipParenthesized();
        }
    }

    /// <summary>[schema.]table, as a table reference; returns its index in <see cref="Tables"/>.</summary>
    private int TableName(bool writes, TableRole role = TableRole.Table)
    {
        var first = Cur;
        if (!first.IsName || (first.Kind == SqlTokenKind.Identifier && Reserved(first.Keyword)))
        {
            throw Syntax(first, "expected a table name");
        }

        int qualifier = -1, name = _p;
        _p++;
        if (Cur.Kind == SqlTokenKind.Dot && Peek(1).IsName)
        {
            qualifier = name;
            name = _p + 1;
            _p += 2;
        }

        if (writes)
        {
            _writes = true;
        }

        Tables.Add(new TableReference(qualifier, name, writes, role, Parts.Count));
        return Tables.Count - 1;
    }

    private void TableList(SqlKeyword introducer, bool writes)
    {
        if (!Accept(introducer) && !(introducer == SqlKeyword.Table && Accept(SqlKeyword.Tables)))
        {
            throw Syntax(Cur, $"expected {introducer.ToString().ToUpperInvariant()}");
        }

        TableName(writes);
        while (Cur.Kind == SqlTokenKind.Comma)
        {
            _p++;
            TableName(writes);
        }

        Scan(Stop.None, queryLevel: false);
    }

    private void SkipParenthesized()
    {
        Expect(SqlTokenKind.LeftParen, "'('");
        Scan(Stop.None, queryLevel: false);
        Expect(SqlTokenKind.RightParen, "')'");
    }

    private void Insert()
    {
        _kind = Cur.Is(SqlKeyword.Insert) ? StatementKind.Insert : StatementKind.Replace;
        _p++;
        while (Cur.Is(SqlKeyword.LowPriority) || Cur.Is(SqlKeyword.Delayed) || Cur.Is(SqlKeyword.HighPriority) || Cur.Is(SqlKeyword.Ignore))
        {
            _p++;
        }

        Accept(SqlKeyword.Into);
        TableName(writes: true);
        if (Cur.Is(SqlKeyword.Partition))
        {
            _p++;
            SkipParenthesized();
        }

        if (!(Cur.Kind == SqlTokenKind.LeftParen || Cur.Is(SqlKeyword.Values) || Cur.Is(SqlKeyword.Value) || Cur.Is(SqlKeyword.Select)
              || Cur.Is(SqlKeyword.Set) || Cur.Is(SqlKeyword.With)))
        {
            throw Syntax(Cur, "expected a column list, VALUES, SELECT or SET after the table");
        }

        Scan(Stop.None, queryLevel: false);
    }

    private void Update()
    {
        _kind = StatementKind.Update;
        _p++;
        while (Cur.Is(SqlKeyword.LowPriority) || Cur.Is(SqlKeyword.Ignore))
        {
            _p++;
        }

        TableReferences(writes: true);
        if (!Cur.Is(SqlKeyword.Set))
        {
            throw Syntax(Cur, "expected SET after the tables of UPDATE");
        }

        Scan(Stop.None, queryLevel: false);
    }

    private void Delete()
    {
        _kind = StatementKind.Delete;
        _writes = true;
        _p++;
        while (Cur.Is(SqlKeyword.LowPriority) || Cur.Is(SqlKeyword.Quick) || Cur.Is(SqlKeyword.Ignore))
        {
            _p++;
        }

        var fromFirst = Accept(SqlKeyword.From);
        var firstTarget = Tables.Count;
        DeleteTarget();
        while (Cur.Kind == SqlTokenKind.Comma)
        {
            _p++;
            DeleteTarget();
        }

        if (fromFirst && !Cur.Is(SqlKeyword.Using))
        {
            if (Tables.Count - firstTarget != 1)
            {
                throw Syntax(Cur, "a DELETE of several tables needs USING (DELETE FROM t1, t2 USING ...) or FROM (DELETE t1, t2 FROM ...)");
            }

            // DELETE FROM t [PARTITION (...)] [[AS] alias] [WHERE ...]: the one target is the table itself.
            Tables[firstTarget] = Tables[firstTarget] with { Role = TableRole.Table };
            if (Cur.Is(SqlKeyword.Partition))
            {
                _p++;
                SkipParenthesized();
            }

            Alias();
        }
        else
        {
            if (!Accept(fromFirst ? SqlKeyword.Using : SqlKeyword.From))
            {
                throw Syntax(Cur, fromFirst ? "expected USING" : "expected FROM after the tables to delete from");
            }

            TableReferences(writes: true);
        }

        Scan(Stop.None, queryLevel: false);
    }

    private void DeleteTarget()
    {
        TableName(writes: true, TableRole.DeleteTarget);
        if (Cur.Kind == SqlTokenKind.Dot && Peek(1).Kind == SqlTokenKind.Star)
        {
            _p += 2;
        }
    }

    private void Create()
    {
        _p++;
        if (IsText(Cur, "OR") && Peek(1).Is(SqlKeyword.Replace))
        {
            _p += 2;
        }

        var temporary = Accept(SqlKeyword.Temporary);
        if (Accept(SqlKeyword.Table))
        {
            _kind = StatementKind.Ddl;
            _writes = true;
            _effects |= temporary ? SessionEffects.TemporaryTable : SessionEffects.ImplicitCommit;
            IfNotExists();
            TableName(writes: true);
            if (Accept(SqlKeyword.Like))
            {
                TableName(writes: false);
            }
            else if (Cur.Kind == SqlTokenKind.LeftParen && Peek(1).Is(SqlKeyword.Like))
            {
                _p += 2;
                TableName(writes: false);
                Expect(SqlTokenKind.RightParen, "')'");
            }

            Scan(Stop.None, queryLevel: false);
            return;
        }

        if (!temporary && (Cur.Is(SqlKeyword.Unique) || Cur.Is(SqlKeyword.Fulltext) || Cur.Is(SqlKeyword.Spatial)))
        {
            _p++;
        }

        if (!temporary && Accept(SqlKeyword.Index))
        {
            Ddl();
            IfNotExists();
            if (!Cur.IsName)
            {
                throw Syntax(Cur, "expected the index name");
            }

            _p++;
            if (Accept(SqlKeyword.Using))
            {
                _p++;
            }

            Expect(SqlKeyword.On);
            TableName(writes: true);
            Scan(Stop.None, queryLevel: false);
            return;
        }

        throw SqlErrors.Unsupported("CREATE " + (Cur.Kind == SqlTokenKind.End ? "" : Word(Cur).ToUpperInvariant()),
            "only CREATE [TEMPORARY] TABLE and CREATE INDEX are routed (views, routines, triggers and databases are made on the tablets)");
    }

    private void IfNotExists()
    {
        if (Cur.Is(SqlKeyword.If))
        {
            _p++;
            Expect(SqlKeyword.Not);
            Expect(SqlKeyword.Exists);
        }
    }

    private void IfExists()
    {
        if (Cur.Is(SqlKeyword.If))
        {
            _p++;
            Expect(SqlKeyword.Exists);
        }
    }

    private void Alter()
    {
        _p++;
        while (Cur.Is(SqlKeyword.Online) || Cur.Is(SqlKeyword.Ignore))
        {
            _p++;
        }

        if (!Accept(SqlKeyword.Table))
        {
            throw SqlErrors.Unsupported("ALTER " + Word(Cur).ToUpperInvariant(), "only ALTER TABLE is routed");
        }

        Ddl();
        IfExists();
        TableName(writes: true);
        _inAlterTable = true;
        Scan(Stop.None, queryLevel: false);
    }

    /// <summary>ALTER TABLE ... RENAME [TO|AS] new_name (but not RENAME COLUMN/INDEX/KEY).</summary>
    private void AlterRename()
    {
        _p++;
        if (IsText(Cur, "COLUMN") || Cur.Is(SqlKeyword.Index) || Cur.Is(SqlKeyword.Key))
        {
            _p++;
            return;
        }

        if (!Accept(SqlKeyword.To))
        {
            Accept(SqlKeyword.As);
        }

        TableName(writes: true);
    }

    private void Drop()
    {
        _p++;
        var temporary = Accept(SqlKeyword.Temporary);
        if (Accept(SqlKeyword.Table) || Accept(SqlKeyword.Tables))
        {
            _kind = StatementKind.Ddl;
            _writes = true;
            if (!temporary)
            {
                _effects |= SessionEffects.ImplicitCommit;
            }

            IfExists();
            TableName(writes: true);
            while (Cur.Kind == SqlTokenKind.Comma)
            {
                _p++;
                TableName(writes: true);
            }

            Scan(Stop.None, queryLevel: false);
            return;
        }

        if (!temporary && Accept(SqlKeyword.Index))
        {
            Ddl();
            IfExists();
            if (!Cur.IsName)
            {
                throw Syntax(Cur, "expected the index name");
            }

            _p++;
            Expect(SqlKeyword.On);
            TableName(writes: true);
            Scan(Stop.None, queryLevel: false);
            return;
        }

        throw SqlErrors.Unsupported("DROP " + Word(Cur).ToUpperInvariant(), "only DROP [TEMPORARY] TABLE and DROP INDEX are routed");
    }

    private void Rename()
    {
        _p++;
        if (!Accept(SqlKeyword.Table) && !Accept(SqlKeyword.Tables))
        {
            throw SqlErrors.Unsupported("RENAME " + Word(Cur).ToUpperInvariant(), "only RENAME TABLE is routed");
        }

        Ddl();
        while (true)
        {
            TableName(writes: true);
            Expect(SqlKeyword.To);
            TableName(writes: true);
            if (Cur.Kind != SqlTokenKind.Comma)
            {
                return;
            }

            _p++;
        }
    }

    private void Set()
    {
        _kind = StatementKind.Set;
        _p++;
        while (true)
        {
            Assignment();
            if (Cur.Kind != SqlTokenKind.Comma)
            {
                return;
            }

            _p++;
        }
    }

    private void Assignment()
    {
        var token = Cur;
        if (token.Is(SqlKeyword.Global) || token.Is(SqlKeyword.Persist) || token.Is(SqlKeyword.PersistOnly))
        {
            throw SetGlobal();
        }

        // SESSION and LOCAL name the scope every SET through the gateway has anyway.
        _ = Accept(SqlKeyword.Session) || Accept(SqlKeyword.Local);
        token = Cur;
        if (token.Is(SqlKeyword.Transaction))
        {
            // SET [SESSION] TRANSACTION ISOLATION LEVEL ... | READ ONLY | READ WRITE. Without SESSION it is for the next
            // transaction only; it is carried either way, as the next transaction may start on another backend connection.
            _p++;
            while (Cur.Kind == SqlTokenKind.Identifier || Cur.Kind == SqlTokenKind.Comma)
            {
                _p++;
            }

            _effects |= SessionEffects.CarriedSet;
            return;
        }

        if (token.Is(SqlKeyword.Names) || (token.Is(SqlKeyword.Character) && Peek(1).Is(SqlKeyword.Set)) || token.Is(SqlKeyword.Charset))
        {
            _p += token.Is(SqlKeyword.Character) ? 2 : 1;
            CharsetValue();
            if (Accept(SqlKeyword.Collate))
            {
                CharsetValue();
            }

            _effects |= SessionEffects.CarriedSet;
            return;
        }

        if (token.Is(SqlKeyword.Password) || token.Is(SqlKeyword.Role) || token.Is(SqlKeyword.Statement) || token.Is(SqlKeyword.Default))
        {
            throw SqlErrors.Unsupported("SET " + Word(token).ToUpperInvariant(), "only session and user variables, NAMES, CHARACTER SET and TRANSACTION are set through the gateway");
        }

        if (token.Kind == SqlTokenKind.UserVariable)
        {
            _p++;
            AssignmentValue();
            _effects |= SessionEffects.UserVariable;
            return;
        }

        var nameToken = token;
        if (token.Kind == SqlTokenKind.SystemVariable)
        {
            var scope = token.NameSpan(_sql);
            if (Peek(1).Kind == SqlTokenKind.Dot && Peek(2).IsName)
            {
                if (scope.Equals("global", StringComparison.OrdinalIgnoreCase) || scope.Equals("persist", StringComparison.OrdinalIgnoreCase)
                    || scope.Equals("persist_only", StringComparison.OrdinalIgnoreCase))
                {
                    throw SetGlobal();
                }

                _p += 2;
                nameToken = Cur;
            }
        }
        else if (!token.IsName)
        {
            throw Syntax(token, "expected a variable to SET");
        }

        var name = nameToken.NameSpan(_sql);
        _p++;
        if (Cur.Kind == SqlTokenKind.Dot && Peek(1).IsName)
        {
            _p += 2; // a structured variable such as default.key_buffer_size
        }

        if (name.Equals("autocommit", StringComparison.OrdinalIgnoreCase))
        {
            Autocommit();
            return;
        }

        var valueStart = _p;
        AssignmentValue();
        if (name.Equals("sql_mode", StringComparison.OrdinalIgnoreCase))
        {
            RefuseUnreadableSqlMode(valueStart);
        }

        _effects |= SessionEffects.CarriedSet;
    }

    /// <summary>
    /// With NO_BACKSLASH_ESCAPES a backslash ends no escape, so 'C:\' is a whole string to MariaDB but not to the lexer,
    /// which would read on into the statement and could miss a table: refused rather than routed wrongly later.
    /// </summary>
    private void RefuseUnreadableSqlMode(int valueStart)
    {
        for (var i = valueStart; i < _p; i++)
        {
            var token = Tokens[i];
            if (token.Kind == SqlTokenKind.String && _sql.AsSpan(token.Start, token.Length).Contains("NO_BACKSLASH_ESCAPES", StringComparison.OrdinalIgnoreCase))
            {
                throw SqlErrors.Unsupported("sql_mode NO_BACKSLASH_ESCAPES",
                    "the gateway reads statements as the default sql_mode does, where a backslash in a string escapes the next character");
            }
        }
    }

    private GatewaySqlException SetGlobal() =>
        SqlErrors.Unsupported("SET GLOBAL", "global variables belong to the tablets and are set on them, not through a client session; SET SESSION (or SET var) sets this session's");

    private void AssignmentValue()
    {
        if (Cur.Kind is not (SqlTokenKind.Assign or SqlTokenKind.Operator) || _sql[Cur.Start] is not ('=' or ':'))
        {
            throw Syntax(Cur, "expected = or := and a value");
        }

        _p++;
        if (Cur.Kind is SqlTokenKind.Comma or SqlTokenKind.Semicolon or SqlTokenKind.End)
        {
            throw Syntax(Cur, "expected a value");
        }

        Scan(Stop.Comma, queryLevel: false);
    }

    private void Autocommit()
    {
        if (Cur.Kind is not (SqlTokenKind.Assign or SqlTokenKind.Operator) || _sql[Cur.Start] is not ('=' or ':'))
        {
            throw Syntax(Cur, "expected = and 0, 1, ON or OFF");
        }

        _p++;
        var value = Cur;
        var text = _sql.AsSpan(value.Start, value.Length).Trim('\'');
        bool on;
        if (text is "1" || text.Equals("ON", StringComparison.OrdinalIgnoreCase) || text.Equals("TRUE", StringComparison.OrdinalIgnoreCase))
        {
            on = true;
        }
        else if (text is "0" || text.Equals("OFF", StringComparison.OrdinalIgnoreCase) || text.Equals("FALSE", StringComparison.OrdinalIgnoreCase))
        {
            on = false;
        }
        else
        {
            throw Syntax(value, "autocommit must be set to 0, 1, ON or OFF (the gateway has to know which)");
        }

        _p++;
        // The last assignment wins (SET autocommit = 0, autocommit = 1 leaves it on).
        _effects = (_effects & ~(SessionEffects.AutocommitOn | SessionEffects.AutocommitOff)) | (on ? SessionEffects.AutocommitOn : SessionEffects.AutocommitOff);
    }

    private void CharsetValue()
    {
        if (Cur.Kind is SqlTokenKind.Identifier or SqlTokenKind.QuotedIdentifier or SqlTokenKind.String)
        {
            _p++;
            return;
        }

        throw Syntax(Cur, "expected a character set or collation name");
    }

    private void Use()
    {
        _kind = StatementKind.Use;
        _effects |= SessionEffects.ChangesKeyspace;
        _p++;
        if (!Cur.IsName)
        {
            throw Syntax(Cur, "expected a keyspace after USE");
        }

        _useStart = _p;
        _p++;

        // USE commerce@replica: the lexer reads '@replica' as a user variable; it belongs to the name when adjacent.
        if (Cur.Kind == SqlTokenKind.UserVariable && Cur.Start == Tokens[_p - 1].End)
        {
            _p++;
        }

        _useEnd = _p;
    }

    private void StartTransaction()
    {
        _p++;
        Expect(SqlKeyword.Transaction);
        _kind = StatementKind.Begin;
        _effects |= SessionEffects.BeginsTransaction;
        while (true)
        {
            if (Accept(SqlKeyword.Read))
            {
                if (!Accept(SqlKeyword.Only) && !Accept(SqlKeyword.Write))
                {
                    throw Syntax(Cur, "expected ONLY or WRITE after READ");
                }
            }
            else if (Accept(SqlKeyword.With))
            {
                Expect(SqlKeyword.Consistent);
                Expect(SqlKeyword.Snapshot);
            }
            else
            {
                return;
            }

            if (Cur.Kind != SqlTokenKind.Comma)
            {
                return;
            }

            _p++;
        }
    }

    private void Rollback()
    {
        _p++;
        Accept(SqlKeyword.Work);
        if (Accept(SqlKeyword.To))
        {
            Accept(SqlKeyword.Savepoint);
            SavepointName();
            return;
        }

        _kind = StatementKind.Rollback;
        _effects |= SessionEffects.EndsTransaction;
    }

    private void SavepointName()
    {
        _kind = StatementKind.Savepoint;
        if (!Cur.IsName)
        {
            throw Syntax(Cur, "expected a savepoint name");
        }

        _p++;
    }

    private void Show()
    {
        _kind = StatementKind.Show;
        _p++;
        Accept(SqlKeyword.Full);
        var what = Cur;
        switch (what.Keyword)
        {
            case SqlKeyword.Tables when what.Kind == SqlTokenKind.Identifier:
                _p++;
                ShowFromKeyspace("SHOW TABLES");
                break;
            case SqlKeyword.Table when Peek(1).Is(SqlKeyword.Status):
                _p += 2;
                ShowFromKeyspace("SHOW TABLE STATUS");
                break;
            case SqlKeyword.Create when Peek(1).Is(SqlKeyword.Table):
                _p += 2;
                TableName(writes: false);
                return;
            case SqlKeyword.Columns or SqlKeyword.Fields or SqlKeyword.Index or SqlKeyword.Indexes or SqlKeyword.Keys:
                _p++;
                if (!Accept(SqlKeyword.From) && !Accept(SqlKeyword.In))
                {
                    throw Syntax(Cur, "expected FROM and a table");
                }

                var table = TableName(writes: false);
                if (Accept(SqlKeyword.From) || Accept(SqlKeyword.In))
                {
                    if (!Cur.IsName || Tables[table].Qualifier >= 0)
                    {
                        throw Syntax(Cur, "expected one keyspace after the table");
                    }

                    Tables[table] = Tables[table] with { Qualifier = _p };
                    _p++;
                }

                break;
            case SqlKeyword.Databases or SqlKeyword.Schemas:
                _p++;
                _kind = StatementKind.Local;
                _local = LocalCommand.ShowDatabases;
                break;
            case SqlKeyword.VitessTablets or SqlKeyword.VitessKeyspaces or SqlKeyword.VitessShards:
                _p++;
                _kind = StatementKind.Local;
                _local = what.Keyword switch
                {
                    SqlKeyword.VitessTablets => LocalCommand.ShowVitessTablets,
                    SqlKeyword.VitessKeyspaces => LocalCommand.ShowVitessKeyspaces,
                    _ => LocalCommand.ShowVitessShards,
                };
                break;
            case SqlKeyword.Session or SqlKeyword.Global or SqlKeyword.Local when Peek(1).Is(SqlKeyword.Variables) || Peek(1).Is(SqlKeyword.Status):
                _p += 2;
                break;
            case SqlKeyword.Variables or SqlKeyword.Status or SqlKeyword.Warnings or SqlKeyword.Errors or SqlKeyword.Engines
                or SqlKeyword.Collation or SqlKeyword.Charset:
                _p++;
                break;
            case SqlKeyword.Character when Peek(1).Is(SqlKeyword.Set):
                _p += 2;
                break;
            case SqlKeyword.Count when Peek(1).Kind == SqlTokenKind.LeftParen && Peek(2).Kind == SqlTokenKind.Star && Peek(3).Kind == SqlTokenKind.RightParen
                                       && (Peek(4).Is(SqlKeyword.Warnings) || Peek(4).Is(SqlKeyword.Errors)):
                _p += 5;
                break;
            case SqlKeyword.Processlist:
                throw SqlErrors.Unsupported("SHOW PROCESSLIST", "it would list one tablet's connections, not the gateway's sessions");
            default:
                throw SqlErrors.Unsupported("SHOW " + (what.Kind == SqlTokenKind.End ? "" : Word(what).ToUpperInvariant()),
                    "SHOW [FULL] TABLES, TABLE STATUS, CREATE TABLE, COLUMNS, INDEX, VARIABLES, STATUS, WARNINGS, ERRORS, DATABASES, ENGINES, COLLATION, CHARACTER SET and VITESS_TABLETS/KEYSPACES/SHARDS are");
        }

        // LIKE 'pattern' or WHERE expression (which may hold subqueries).
        Scan(Stop.None, queryLevel: false);
    }

    private void ShowFromKeyspace(string what)
    {
        if (Accept(SqlKeyword.From) || Accept(SqlKeyword.In))
        {
            if (!Cur.IsName)
            {
                throw Syntax(Cur, "expected a keyspace after FROM");
            }

            Tables.Add(new TableReference(_p, -1, false, TableRole.KeyspaceOnly, Parts.Count));
            _p++;
            return;
        }

        _needsKeyspace = what;
    }

    private void Describe()
    {
        _p++;
        while (Cur.Is(SqlKeyword.Extended) || Cur.Is(SqlKeyword.Partitions) || Cur.Is(SqlKeyword.Analyze))
        {
            _p++;
        }

        if (Cur.Is(SqlKeyword.Format))
        {
            _p++;
            if (Cur.Kind != SqlTokenKind.Operator || _sql[Cur.Start] != '=')
            {
                throw Syntax(Cur, "expected = after FORMAT");
            }

            _p += 2;
        }

        var head = Cur;
        if (head.Kind == SqlTokenKind.LeftParen || head.Is(SqlKeyword.Select) || head.Is(SqlKeyword.With) || head.Is(SqlKeyword.Insert)
            || head.Is(SqlKeyword.Replace) || head.Is(SqlKeyword.Update) || head.Is(SqlKeyword.Delete))
        {
            // EXPLAIN a statement: its tables route it, but nothing is written.
            Statement();
            _kind = StatementKind.Describe;
            _writes = false;
            return;
        }

        _kind = StatementKind.Describe;
        TableName(writes: false);
        if (Cur.IsName || Cur.Kind == SqlTokenKind.String)
        {
            _p++; // a column name or pattern
        }
    }

    private void LockTables()
    {
        _p++;
        if (!Accept(SqlKeyword.Tables) && !Accept(SqlKeyword.Table))
        {
            throw Syntax(Cur, "expected TABLES after LOCK");
        }

        _kind = StatementKind.LockTables;
        _effects |= SessionEffects.LockTables | SessionEffects.ImplicitCommit;
        while (true)
        {
            var index = TableName(writes: false);
            Alias();
            if (Accept(SqlKeyword.Read))
            {
                Accept(SqlKeyword.Local);
            }
            else
            {
                Accept(SqlKeyword.LowPriority);
                Expect(SqlKeyword.Write);
                _writes = true;
                Tables[index] = Tables[index] with { Writes = true };
            }

            if (Cur.Kind != SqlTokenKind.Comma)
            {
                return;
            }

            _p++;
        }
    }
}
