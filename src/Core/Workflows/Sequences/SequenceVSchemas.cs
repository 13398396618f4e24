using System.Text.Json.Nodes;
using Durable.Topology;

namespace Durable.Workflows;

/// <summary>
/// The VSchema records of REPLACE: the global keyspace lists each sequence table as <c>{"type": "sequence"}</c>, and
/// the target keyspace's table names it in <c>"auto_increment": {"column": c, "sequence": "K.t_seq"}</c>. Both edits
/// are idempotent (a second run writes the same document), and everything else in the documents is kept.
/// </summary>
public static class SequenceVSchemas
{
    /// <summary>The global keyspace's VSchema (<paramref name="json"/>, null when it has none) with the sequence tables added.</summary>
    public static string WithSequenceTables(string? json, IEnumerable<SequenceTable> sequences)
    {
        var root = Root(json);
        var tables = Tables(root);
        foreach (var s in sequences)
        {
            if (tables[s.Name] is not JsonObject table)
            {
                tables[s.Name] = new JsonObject { ["type"] = "sequence" };
            }
            else
            {
                table["type"] = "sequence";
            }
        }

        return root.ToJsonString();
    }

    /// <summary>The target keyspace's VSchema with each moved table's auto_increment naming its sequence.</summary>
    public static string WithAutoIncrements(string? json, IEnumerable<SequenceTable> sequences)
    {
        var root = Root(json);
        var tables = Tables(root);
        foreach (var s in sequences)
        {
            if (tables[s.Table] is not JsonObject table)
            {
                throw new WorkflowValidationException($"Table '{s.Table}' has no entry in the VSchema of the target keyspace: apply a VSchema with its primary vindex first.");
            }

            table["auto_increment"] = new JsonObject { ["column"] = s.Column, ["sequence"] = s.Qualified };
        }

        return root.ToJsonString();
    }

    /// <summary>
    /// What stops REPLACE from recording the sequences: a moved table without an entry (and so without a primary vindex)
    /// in the target VSchema, one whose auto_increment already names something else, or a table of the global keyspace's
    /// VSchema called like a sequence that is not one.
    /// </summary>
    public static IReadOnlyList<string> Problems(VSchemaDocument? global, VSchemaDocument? target, string targetKeyspace, IReadOnlyList<SequenceTable> sequences)
    {
        var problems = new List<string>();
        foreach (var s in sequences)
        {
            if (target is null || !target.Tables.TryGetValue(s.Table, out var table))
            {
                problems.Add($"Table '{s.Table}' has no entry in the VSchema of target keyspace '{targetKeyspace}': REPLACE records its sequence there, next to its primary vindex; apply a VSchema with the table first (durablectl ApplyVSchema).");
            }
            else if (table.AutoIncrement is { } existing && (existing.Column != s.Column || existing.Sequence != s.Qualified))
            {
                problems.Add($"Table '{s.Table}' in the VSchema of target keyspace '{targetKeyspace}' already has auto_increment {{column '{existing.Column}', sequence '{existing.Sequence}'}}; REPLACE would set {{column '{s.Column}', sequence '{s.Qualified}'}}: remove it from the VSchema or use REMOVE.");
            }

            if (global is not null && global.Tables.TryGetValue(s.Name, out var seq) && seq.Type != "sequence")
            {
                problems.Add($"Table '{s.Name}' of global keyspace '{s.GlobalKeyspace}' is in its VSchema as {(seq.Type.Length == 0 ? "a plain table" : $"type '{seq.Type}'")}, not as a sequence: rename it, or mark it {{\"type\": \"sequence\"}} if it is one.");
            }
        }

        return problems;
    }

    private static JsonObject Root(string? json) =>
        json is null ? new JsonObject() : VSchemaDocument.Parse(json).Json.DeepClone().AsObject();

    private static JsonObject Tables(JsonObject root)
    {
        if (root["tables"] is not JsonObject tables)
        {
            tables = new JsonObject();
            root["tables"] = tables;
        }

        return tables;
    }
}
