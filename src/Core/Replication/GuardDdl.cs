using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Durable.MySql.Sql;

namespace Durable.Replication;

/// <summary>
/// The write guards' own DDL as it travels through the binlog: the guards (CREATE/DROP TRIGGER on the source primaries
/// at a switch, on the target primaries at create and reverse) are binlogged, so the streams of this and every other
/// workflow read them. A stream must never stop on them (on_ddl=STOP would stop every switch) nor run them on its target
/// (on_ddl=EXEC would guard the side writes go to). So each guard statement carries a marker comment naming its
/// workflow, side and table, and its trigger name is derived from those: a statement is the product's only when the
/// name it creates or drops is the one its marker implies. A user's trigger (or one named like ours without the marker)
/// is DDL like any other.
/// <para>
/// Where the marker goes was measured on MariaDB 10.11: CREATE TRIGGER is rewritten for the binlog as
/// <c>CREATE DEFINER=`user`@`host` TRIGGER ...</c>, dropping comments before TRIGGER and keeping the text from TRIGGER on
/// verbatim; DROP TRIGGER is logged verbatim. So the marker stands right after the TRIGGER keyword in both.
/// </para>
/// </summary>
public static partial class GuardDdl
{
    /// <summary>The reserved prefix of guard trigger names.</summary>
    public const string TriggerPrefix = "_durable_guard_";

    private const string MarkerTag = "durable:guard";

    /// <summary>The three guard events and the suffix of their trigger names.</summary>
    public static IReadOnlyList<(string Event, string Suffix)> Events { get; } = [("INSERT", "i"), ("UPDATE", "u"), ("DELETE", "d")];

    /// <summary>
    /// The trigger name for (workflow, side, table, event): derived so every step can find its own guards again, and
    /// hashed because a trigger name is at most 64 characters and must be unique in its schema.
    /// </summary>
    public static string TriggerName(string targetKeyspace, string workflow, string side, string table, string suffix)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{targetKeyspace}\n{workflow}\n{side}\n{table}"));
        return $"{TriggerPrefix}{Convert.ToHexStringLower(hash)[..20]}_{suffix}";
    }

    /// <summary>
    /// The marker comment: keyspace and workflow as they are (their names are letters, digits, '_' and '-', so they
    /// cannot end the comment), the table in hex (a table name may hold <c>*/</c>).
    /// </summary>
    public static string Marker(string targetKeyspace, string workflow, string side, string table)
    {
        if (!SafeName().IsMatch(targetKeyspace) || !SafeName().IsMatch(workflow) || !SafeName().IsMatch(side))
        {
            throw new ArgumentException($"A guard marker names a keyspace, workflow and side of letters, digits, '_' and '-'; got '{targetKeyspace}', '{workflow}', '{side}'.");
        }

        return $"/* {MarkerTag} {targetKeyspace} {workflow} {side} {Convert.ToHexStringLower(Encoding.UTF8.GetBytes(table))} */";
    }

    /// <summary>CREATE TRIGGER of one guard, its body given (identifiers quoted here, the marker after TRIGGER).</summary>
    public static string Create(string targetKeyspace, string workflow, string side, string database, string table, string evt, string suffix, string body) =>
        $"CREATE TRIGGER {Marker(targetKeyspace, workflow, side, table)} IF NOT EXISTS {SqlQuoter.QualifiedName(database, TriggerName(targetKeyspace, workflow, side, table, suffix))} " +
        $"BEFORE {evt} ON {SqlQuoter.QualifiedName(database, table)} FOR EACH ROW {body}";

    /// <summary>DROP TRIGGER of one guard (idempotent).</summary>
    public static string Drop(string targetKeyspace, string workflow, string side, string database, string table, string suffix) =>
        $"DROP TRIGGER {Marker(targetKeyspace, workflow, side, table)} IF EXISTS {SqlQuoter.QualifiedName(database, TriggerName(targetKeyspace, workflow, side, table, suffix))}";

    /// <summary>
    /// Whether <paramref name="sql"/> (a binlog QUERY event's text) is a guard's CREATE or DROP TRIGGER: the marker right
    /// after TRIGGER, and the trigger (and for CREATE the table and event) the ones the marker implies.
    /// </summary>
    public static bool IsGuardDdl(string sql) => TryParse(sql, out _);

    /// <summary>The guard a statement creates or drops, as its marker names it.</summary>
    public static bool TryParse(string sql, [NotNullWhen(true)] out GuardStatement? guard)
    {
        guard = null;
        var text = sql.Trim();
        var create = CreatePattern().Match(text);
        var match = create.Success ? create : DropPattern().Match(text);
        if (!match.Success)
        {
            return false;
        }

        string table;
        try
        {
            table = Encoding.UTF8.GetString(Convert.FromHexString(match.Groups["table"].Value));
        }
        catch (FormatException)
        {
            return false;
        }

        var (ks, wf, side, suffix) = (match.Groups["ks"].Value, match.Groups["wf"].Value, match.Groups["side"].Value, match.Groups["suffix"].Value);
        if (!string.Equals(Unquote(match.Groups["name"].Value), TriggerName(ks, wf, side, table, suffix), StringComparison.Ordinal))
        {
            return false;
        }

        if (create.Success)
        {
            var evt = Events.FirstOrDefault(e => e.Suffix == suffix).Event;
            if (!string.Equals(create.Groups["event"].Value, evt, StringComparison.OrdinalIgnoreCase)
                || !string.Equals(Unquote(create.Groups["on"].Value), table, StringComparison.Ordinal))
            {
                return false;
            }
        }

        guard = new GuardStatement(create.Success, ks, wf, side, table);
        return true;
    }

    private static string Unquote(string identifier) => identifier[1..^1].Replace("``", "`", StringComparison.Ordinal);

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$", RegexOptions.CultureInvariant)]
    private static partial Regex SafeName();

    // What the server logs: CREATE, an optional definer (MariaDB and MySQL add it, quoted), TRIGGER, the marker, and the
    // rest as sent. Identifiers are matched as SqlQuoter writes them (backticks, doubled inside).
    private const string Ident = "`(?:[^`]|``)+`";
    private const string MarkerPattern = @"/\* " + MarkerTag + @" (?<ks>[A-Za-z0-9_-]{1,64}) (?<wf>[A-Za-z0-9_-]{1,64}) (?<side>[A-Za-z0-9_-]{1,64}) (?<table>(?:[0-9a-f]{2})+) \*/";
    private const string Name = "(?:" + Ident + @"\.)?(?<name>`" + TriggerPrefix + "[0-9a-f]{20}_(?<suffix>[iud])`)";

    [GeneratedRegex(@"^CREATE\s+(?:DEFINER\s*=\s*(?:" + Ident + @"|'(?:[^'\\]|\\.|'')*'|[^\s@`']+)@(?:" + Ident + @"|'(?:[^'\\]|\\.|'')*'|[^\s`']+)\s+)?TRIGGER\s+"
        + MarkerPattern + @"\s+IF\s+NOT\s+EXISTS\s+" + Name + @"\s+BEFORE\s+(?<event>INSERT|UPDATE|DELETE)\s+ON\s+(?:" + Ident + @"\.)?(?<on>" + Ident + @")\s+FOR\s+EACH\s+ROW\s",
        RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex CreatePattern();

    [GeneratedRegex(@"^DROP\s+TRIGGER\s+" + MarkerPattern + @"\s+IF\s+EXISTS\s+" + Name + "$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex DropPattern();
}

/// <summary>A guard statement's parts, as its marker names them.</summary>
public sealed record GuardStatement(bool IsCreate, string TargetKeyspace, string Workflow, string Side, string Table);
