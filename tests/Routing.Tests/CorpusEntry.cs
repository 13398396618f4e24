namespace Durable.Routing.Tests;

/// <summary>
/// One statement of the corpus (tests/Routing.Tests/Corpus/*.sql) and what routing it must give. The format:
/// <code>
/// === name
/// @session commerce@replica        (optional; no line means no keyspace selected)
/// SELECT ...                        (the statement, as many lines as it takes)
/// --- expect
/// kind: Select
/// target: commerce                  ('-' for none)
/// tables: commerce.t, customer.u    ('-' for none)
/// writes: false
/// effects: None                     (SessionEffects names, comma-separated)
/// local: ShowVitessTablets          (optional, default None)
/// use: customer@replica             (optional, default none)
/// parts: 2                          (optional, default 1)
/// sql: same                         (or 'sql:' alone, then the rewritten text on the lines after it)
/// </code>
/// or, for a refusal, <c>--- error</c> with <c>code:</c>, <c>state:</c> and <c>message:</c> (a text the message contains;
/// several message lines must all be contained).
/// </summary>
public sealed record CorpusEntry(string File, string Name, KeyspaceTarget? Session, string Sql, IReadOnlyDictionary<string, string> Expect, IReadOnlyList<string> Messages, bool IsError)
{
    public override string ToString() => $"{File}: {Name}";

    public static IEnumerable<CorpusEntry> Load(string path)
    {
        var file = Path.GetFileName(path);
        var lines = System.IO.File.ReadAllLines(path);
        var i = 0;
        while (i < lines.Length)
        {
            if (!lines[i].StartsWith("=== ", StringComparison.Ordinal))
            {
                i++;
                continue;
            }

            var name = lines[i++][4..].Trim();
            KeyspaceTarget? session = null;
            if (i < lines.Length && lines[i].StartsWith("@session ", StringComparison.Ordinal))
            {
                session = KeyspaceTarget.Parse(lines[i++]["@session ".Length..].Trim());
            }

            var sql = new List<string>();
            while (i < lines.Length && !lines[i].StartsWith("--- ", StringComparison.Ordinal))
            {
                sql.Add(lines[i++]);
            }

            if (i >= lines.Length)
            {
                throw new InvalidDataException($"{file}: entry '{name}' has no '--- expect' or '--- error' line");
            }

            var isError = lines[i++].Trim() == "--- error";
            var expect = new Dictionary<string, string>(StringComparer.Ordinal);
            var messages = new List<string>();
            while (i < lines.Length && !lines[i].StartsWith("=== ", StringComparison.Ordinal))
            {
                var line = lines[i++];
                if (line.Trim().Length == 0)
                {
                    continue;
                }

                var colon = line.IndexOf(':', StringComparison.Ordinal);
                var key = line[..colon].Trim();
                var value = line[(colon + 1)..].Trim();
                if (key == "message")
                {
                    messages.Add(value);
                }
                else if (key == "sql" && value.Length == 0)
                {
                    var text = new List<string>();
                    while (i < lines.Length && !lines[i].StartsWith("=== ", StringComparison.Ordinal))
                    {
                        text.Add(lines[i++]);
                    }

                    while (text.Count > 0 && text[^1].Trim().Length == 0)
                    {
                        text.RemoveAt(text.Count - 1);
                    }

                    expect[key] = string.Join("\n", text);
                }
                else
                {
                    expect[key] = value;
                }
            }

            while (sql.Count > 0 && sql[^1].Trim().Length == 0)
            {
                sql.RemoveAt(sql.Count - 1);
            }

            yield return new CorpusEntry(file, name, session, string.Join("\n", sql), expect, messages, isError);
        }
    }

    public static string Describe(KeyspaceTarget? target) => target?.ToString() ?? "-";

    public static string Describe(IReadOnlyList<QualifiedTable> tables) => tables.Count == 0 ? "-" : string.Join(", ", tables);

}
