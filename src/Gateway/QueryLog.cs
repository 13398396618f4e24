using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;

namespace Durable.Gateway;

/// <summary>
/// The optional query log (Gateway:QueryLog): one line per statement with the session, user, target, backend tablet,
/// duration and rows. String literals of statements that carry passwords (CREATE USER, ALTER USER, SET PASSWORD,
/// GRANT) are replaced by '***'.
/// </summary>
internal sealed partial class QueryLog(GatewaySettings settings, ILogger<QueryLog> logger)
{
    public bool Enabled { get; } = settings.QueryLog;

    public void Write(long session, string user, string? target, string? alias, TimeSpan duration, ulong rows, ulong affected, string? error, string sql)
    {
        logger.LogInformation("query session={Session} user={User} target={Target} tablet={Tablet} ms={Ms:F2} rows={Rows} affected={Affected}{Error} sql={Sql}",
            session, user, target ?? "-", alias ?? "-", duration.TotalMilliseconds, rows, affected, error is null ? string.Empty : " error=" + error, Redact(sql));
    }

    public static string Redact(string sql) => SecretStatement().IsMatch(sql) ? StringLiteral().Replace(sql, "'***'") : sql;

    [GeneratedRegex(@"^\s*(/\*.*?\*/\s*)*(CREATE\s+USER|ALTER\s+USER|SET\s+PASSWORD|GRANT)\b", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex SecretStatement();

    [GeneratedRegex(@"'(?:[^'\\]|\\.|'')*'|""(?:[^""\\]|\\.|"""")*""", RegexOptions.Singleline)]
    private static partial Regex StringLiteral();
}
