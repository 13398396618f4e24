using Durable.MySql;
using Durable.MySql.Sql;

namespace Durable.Replication;

/// <summary>
/// The row-change statements of a <see cref="StreamApplier"/> on their way to the target: queued into compound blocks
/// (MariaDB) and sent with at most one block in flight, or sent one per round trip (no compound statements).
/// </summary>
internal sealed class BlockPipeline
{
    private readonly MySqlConnection _target;

    // MariaDB: consecutive row changes go to the server as one anonymous compound statement (BEGIN NOT ATOMIC ...
    // END), many UPDATE/DELETE/INSERT statements per round trip, in their source order. A DELETE that finds no row
    // SIGNALs (keeping the divergence check); the signal names an entry of _blockDeletes, which holds the full message.
    //
    // Blocks are pipelined: a full block is sent and, while the target executes it, the next one is built from the
    // following binlog events (two buffers, at most one block in flight, so the order of changes is the source's).
    // Everything else the applier sends on the connection (BEGIN, the lastpk query, the position update, COMMIT,
    // rollback) first waits for the block in flight, so its errors surface before the transaction can commit.
    private readonly bool _compound;
    private readonly int _blockBudget;
    private ByteBuilder _block = new(64 * 1024);
    private List<Func<Task<string>>> _blockDeletes = [];
    private ByteBuilder _spareBlock = new(64 * 1024);
    private List<Func<Task<string>>> _spareDeletes = [];
    private Task? _inFlight;
    private int _blockStatements;
    /// <summary>Starts the message of every divergence SIGNAL (the group checks' too); the number after it picks the block's message.</summary>
    public const string DeleteSignalPrefix = "durable: no row for delete #";
    private static readonly byte[] DeleteSignalHead = System.Text.Encoding.UTF8.GetBytes($"IF ROW_COUNT() = 0 THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{DeleteSignalPrefix}");

    public BlockPipeline(MySqlConnection target, bool compound, int blockBudget)
    {
        _target = target;
        _compound = compound;
        _blockBudget = blockBudget;
    }

    /// <summary>Whether row changes go to the target in compound blocks (MariaDB) rather than one statement each.</summary>
    public bool Compound => _compound;

    /// <summary>Bytes of statements per block; a statement over half of it is sent alone.</summary>
    public int BlockBudget => _blockBudget;

    /// <summary>Round trips that carried row changes (compound blocks and single statements), for tests and profiling.</summary>
    public long RoundTrips { get; private set; }

    /// <summary>Time per apply phase (shared with the replicator that feeds the applier).</summary>
    public ApplyProfile Profile { get; set; } = new();

    /// <summary>
    /// Sends a change now (no compound statements, or too big for a block) or appends it to the current block. A
    /// DELETE carries <paramref name="deleteMessage"/>: the divergence to report when it finds no row.
    /// </summary>
    public Task QueueAsync(ReadOnlyMemory<byte> statement, Func<string>? deleteMessage, CancellationToken ct) =>
        QueueAsync(statement, deleteMessage is null ? null : () => Task.FromResult(deleteMessage()), checkIsInStatement: false, ct);

    /// <summary>
    /// As above; with <paramref name="checkIsInStatement"/> the statement is the head of a check, "IF ... THEN SIGNAL
    /// ... MESSAGE_TEXT = '&lt;DeleteSignalPrefix&gt;", which this method ends with the index of
    /// <paramref name="deleteMessage"/> in the block it lands in (known only once it is placed) and "'; END IF".
    /// </summary>
    public async Task QueueAsync(ReadOnlyMemory<byte> statement, Func<Task<string>>? deleteMessage, bool checkIsInStatement, CancellationToken ct)
    {
        if (checkIsInStatement && (!_compound || statement.Length > _blockBudget / 2))
        {
            // Alone (a top-level IF, which MariaDB runs outside stored programs too): its SIGNAL is message 0 of its own.
            await SendBlockAsync(ct).ConfigureAwait(false);
            // In a compound statement of its own: the check may follow the statement it checks ("DELETE ...; IF ...").
            var alone = new ByteBuilder(statement.Length + 48);
            alone.Append("BEGIN NOT ATOMIC\n"u8);
            alone.Append(statement.Span);
            alone.Append("0'; END IF;\nEND"u8);
            List<Func<Task<string>>> messages = [deleteMessage!];
            RoundTrips++;
            Profile.RoundTrips++;
            _inFlight = ExecuteBlockAsync(alone, messages, ct);
            await AwaitInFlightAsync().ConfigureAwait(false);
            return;
        }

        if (!_compound || statement.Length > _blockBudget / 2)
        {
            await SendBlockAsync(ct).ConfigureAwait(false);
            RoundTrips++;
            Profile.RoundTrips++;
            Profile.BytesSent += statement.Length;
            var started = ApplyProfile.Now();
            Durable.MySql.Protocol.OkPacket ok;
            try
            {
                ok = await _target.ExecuteAsync(statement, ct).ConfigureAwait(false);
            }
            finally
            {
                var took = ApplyProfile.Since(started);
                Profile.SendTicks += took;
                Profile.WaitTicks += took;
            }

            if (deleteMessage is not null && !checkIsInStatement && ok.AffectedRows == 0)
            {
                throw new TerminalReplicationException(await deleteMessage().ConfigureAwait(false));
            }

            return;
        }

        if (_block.Length + statement.Length + 160 > _blockBudget)
        {
            await SendBlockAsync(ct, wait: false).ConfigureAwait(false);
        }

        if (_blockStatements == 0)
        {
            _block.Append("BEGIN NOT ATOMIC\n"u8);
        }

        _block.Append(statement.Span);
        Span<byte> digits = stackalloc byte[12];
        if (deleteMessage is not null && checkIsInStatement)
        {
            _blockDeletes.Count.TryFormat(digits, out var written, default, System.Globalization.CultureInfo.InvariantCulture);
            _block.Append(digits[..written]);
            _block.Append("'; END IF;\n"u8);
            _blockDeletes.Add(deleteMessage);
        }
        else if (deleteMessage is not null)
        {
            _block.Append(";\n"u8);
            _block.Append(DeleteSignalHead);
            _blockDeletes.Count.TryFormat(digits, out var written, default, System.Globalization.CultureInfo.InvariantCulture);
            _block.Append(digits[..written]);
            _block.Append("'; END IF;\n"u8);
            _blockDeletes.Add(deleteMessage);
        }
        else
        {
            _block.Append(";\n"u8);
        }

        _blockStatements++;
    }

    /// <summary>
    /// Ends the current block and sends it. With <paramref name="wait"/> false the block stays in flight while the
    /// caller builds the next one (the previous block in flight is awaited first: at most one at a time).
    /// </summary>
    public async Task SendBlockAsync(CancellationToken ct, bool wait = true)
    {
        if (_blockStatements == 0)
        {
            if (wait)
            {
                await AwaitInFlightAsync().ConfigureAwait(false);
            }

            return;
        }

        _block.Append("END"u8);
        await AwaitInFlightAsync().ConfigureAwait(false);
        var sent = _block;
        var sentDeletes = _blockDeletes;
        (_block, _blockDeletes) = (_spareBlock, _spareDeletes);
        (_spareBlock, _spareDeletes) = (sent, sentDeletes);
        _blockStatements = 0;
        RoundTrips++;
        Profile.RoundTrips++;
        Profile.BytesSent += sent.Length;
        _inFlight = ExecuteBlockAsync(sent, sentDeletes, ct);
        if (wait)
        {
            await AwaitInFlightAsync().ConfigureAwait(false);
        }
    }

    private async Task ExecuteBlockAsync(ByteBuilder block, List<Func<Task<string>>> deletes, CancellationToken ct)
    {
        var started = ApplyProfile.Now();
        try
        {
            await _target.ExecuteAsync(block.Memory, ct).ConfigureAwait(false);
        }
        catch (MySqlException e) when (e.ErrorNumber == 1644 /* ER_SIGNAL_EXCEPTION */ && e.Message.Contains(DeleteSignalPrefix, StringComparison.Ordinal))
        {
            var at = e.Message.IndexOf(DeleteSignalPrefix, StringComparison.Ordinal) + DeleteSignalPrefix.Length;
            var digits = new string(e.Message.Skip(at).TakeWhile(char.IsAsciiDigit).ToArray());
            // The block stopped at the SIGNAL and the connection is free: a message may look at the target (which
            // rows of a group were missing) before the caller rolls the transaction back.
            var message = int.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) && n < deletes.Count
                ? await deletes[n]().ConfigureAwait(false)
                : e.Message;
            throw new TerminalReplicationException(message, e);
        }
        finally
        {
            Profile.SendTicks += ApplyProfile.Since(started);
            block.Clear();
            deletes.Clear();
        }
    }

    /// <summary>Waits for the block in flight, if any (its failure is thrown here).</summary>
    public async Task AwaitInFlightAsync()
    {
        if (_inFlight is not { } inFlight)
        {
            return;
        }

        _inFlight = null;
        var started = ApplyProfile.Now();
        try
        {
            await inFlight.ConfigureAwait(false);
        }
        finally
        {
            Profile.WaitTicks += ApplyProfile.Since(started);
        }
    }

    /// <summary>Drops the block being built (a rolled-back transaction's); the block in flight clears itself when it ends.</summary>
    public void ClearBlock()
    {
        _block.Clear();
        _blockDeletes.Clear();
        _blockStatements = 0;
    }
}
