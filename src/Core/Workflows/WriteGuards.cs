using Durable.MySql;
using Durable.MySql.Sql;
using Durable.Replication;

namespace Durable.Workflows;

/// <summary>Which side of a move a guard protects: the target before the switch, the source after it.</summary>
public enum GuardSide
{
    Target,
    Source,
}

/// <summary>One installed guard trigger as information_schema shows it.</summary>
public sealed record GuardTrigger(string Table, string Name, string Event);

/// <summary>
/// Write guards: BEFORE INSERT/UPDATE/DELETE triggers that refuse every write with a message naming the workflow and
/// where writes go, except from the engine's own accounts. Triggers are the one MariaDB mechanism that stops every
/// account (read_only is server-wide, a table-level REVOKE cannot subtract from a db-level grant) and they survive
/// restarts. Inside a trigger CURRENT_USER() is the definer, so the exemption checks USER(), the connecting account.
/// They do not stop TRUNCATE, DDL or foreign-key cascades; pre-flight refuses foreign keys it cannot guard.
/// Their statements are written by <see cref="GuardDdl"/>, marked so that no stream stops on them or runs them.
/// </summary>
public sealed class WriteGuards(IReadOnlyList<string> exemptUsers)
{
    public const string NamePrefix = GuardDdl.TriggerPrefix;

    /// <summary>MariaDB's limit on SIGNAL MESSAGE_TEXT.</summary>
    public const int MaxMessageLength = 128;

    public IReadOnlyList<string> ExemptUsers { get; } = exemptUsers.Count > 0
        ? exemptUsers
        : throw new ArgumentException("Write guards need at least one exempt (engine) account, or the engine could not write either.");

    private static IReadOnlyList<(string Event, string Suffix)> Events => GuardDdl.Events;

    /// <summary>Trigger names are derived from (workflow, side, table) so every step can find its own guards again.</summary>
    public static string TriggerName(string targetKeyspace, string workflow, GuardSide side, string table, string suffix) =>
        GuardDdl.TriggerName(targetKeyspace, workflow, side.ToString(), table, suffix);

    /// <summary>The error a guarded write gets; at most 128 characters (MariaDB's MESSAGE_TEXT limit).</summary>
    public static string Message(string targetKeyspace, string workflow, GuardSide side, string sourceKeyspace, string table)
    {
        var text = side == GuardSide.Target
            ? $"Durable write guard: {targetKeyspace}.{table} is being moved by workflow {targetKeyspace}.{workflow}; write to {sourceKeyspace}.{table}"
            : $"Durable write guard: {sourceKeyspace}.{table} was moved by workflow {targetKeyspace}.{workflow}; write to {targetKeyspace}.{table}";
        if (text.Length <= MaxMessageLength)
        {
            return text;
        }

        // Long names: keep what the application needs most, the workflow and where to write.
        var dest = side == GuardSide.Target ? sourceKeyspace : targetKeyspace;
        var compact = $"Durable guard: {table} moving in workflow {targetKeyspace}.{workflow}; write to {dest}";
        return compact.Length <= MaxMessageLength ? compact : compact[..MaxMessageLength];
    }

    /// <summary>The three CREATE TRIGGER statements for one table (all identifiers and literals quoted, each marked as a guard's).</summary>
    public IReadOnlyList<string> CreateStatements(SqlQuoter quoter, string database, string targetKeyspace, string workflow, GuardSide side, string table, string message)
    {
        var exempt = string.Join(", ", ExemptUsers.Select(quoter.String));
        var body = $"IF SUBSTRING_INDEX(USER(), '@', 1) NOT IN ({exempt}) THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = {quoter.String(message)}; END IF";
        return [.. Events.Select(e => GuardDdl.Create(targetKeyspace, workflow, side.ToString(), database, table, e.Event, e.Suffix, body))];
    }

    /// <summary>
    /// Installs the guards on <paramref name="tables"/>. CREATE TRIGGER needs an exclusive metadata lock, so it waits
    /// for in-flight transactions on the table; <paramref name="lockWait"/> bounds that wait so a long transaction
    /// fails the step instead of stalling every writer queued behind it.
    /// </summary>
    public async Task InstallAsync(MySqlConnection c, string database, string targetKeyspace, string workflow, string sourceKeyspace,
        GuardSide side, IEnumerable<string> tables, TimeSpan lockWait, CancellationToken ct)
    {
        await c.ExecuteAsync($"SET SESSION lock_wait_timeout = {Math.Max(1, (int)Math.Ceiling(lockWait.TotalSeconds))}", ct).ConfigureAwait(false);
        // The account installing the guard is the engine's account on this tablet, which may be the tablet's own (an
        // adopted server's): the streams that write here log in with it, so it is exempt too.
        var installer = await c.QueryScalarAsync("SELECT SUBSTRING_INDEX(USER(), '@', 1)", ct).ConfigureAwait(false);
        var guards = installer is { Length: > 0 } && !ExemptUsers.Contains(installer, StringComparer.Ordinal) ? new WriteGuards([.. ExemptUsers, installer]) : this;
        foreach (var table in tables)
        {
            foreach (var sql in guards.CreateStatements(c.Quoter, database, targetKeyspace, workflow, side, table, Message(targetKeyspace, workflow, side, sourceKeyspace, table)))
            {
                await c.ExecuteAsync(sql, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Removes this workflow's guards of one side from <paramref name="tables"/>; missing ones are fine (idempotent).</summary>
    public static async Task RemoveAsync(MySqlConnection c, string database, string targetKeyspace, string workflow, GuardSide side,
        IEnumerable<string> tables, TimeSpan lockWait, CancellationToken ct)
    {
        await c.ExecuteAsync($"SET SESSION lock_wait_timeout = {Math.Max(1, (int)Math.Ceiling(lockWait.TotalSeconds))}", ct).ConfigureAwait(false);
        foreach (var table in tables)
        {
            foreach (var (_, suffix) in Events)
            {
                await c.ExecuteAsync(GuardDdl.Drop(targetKeyspace, workflow, side.ToString(), database, table, suffix), ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The guard triggers installed in a schema (any workflow's).</summary>
    public static async Task<IReadOnlyList<GuardTrigger>> ListAsync(MySqlConnection c, string database, CancellationToken ct)
    {
        var result = new List<GuardTrigger>();
        await using var reader = await c.QueryAsync(
            "SELECT EVENT_OBJECT_TABLE, TRIGGER_NAME, EVENT_MANIPULATION FROM information_schema.TRIGGERS " +
            $"WHERE TRIGGER_SCHEMA = {c.Quoter.String(database)} AND TRIGGER_NAME LIKE {c.Quoter.String(NamePrefix.Replace("_", "\\_", StringComparison.Ordinal) + "%")} " +
            "ORDER BY EVENT_OBJECT_TABLE, TRIGGER_NAME", ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            result.Add(new GuardTrigger(reader.GetString(0)!, reader.GetString(1)!, reader.GetString(2)!));
        }

        return result;
    }

    /// <summary>Whether all three guards of one side are on <paramref name="table"/>.</summary>
    public static async Task<bool> IsGuardedAsync(MySqlConnection c, string database, string targetKeyspace, string workflow, GuardSide side, string table, CancellationToken ct)
    {
        var names = Events.Select(e => TriggerName(targetKeyspace, workflow, side, table, e.Suffix)).ToHashSet(StringComparer.Ordinal);
        var installed = await ListAsync(c, database, ct).ConfigureAwait(false);
        return installed.Count(g => names.Contains(g.Name) && string.Equals(g.Table, table, StringComparison.Ordinal)) == 3;
    }
}
