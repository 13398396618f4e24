using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Durable.Contracts;

/// <summary>The actions that can wait for an approval.</summary>
public static class ApprovalActions
{
    public const string SwitchTraffic = "SwitchTraffic";
    public const string Complete = "Complete";

    public static string Normalize(string action) => action.Trim().ToLowerInvariant() switch
    {
        "switchtraffic" => SwitchTraffic,
        "complete" => Complete,
        _ => throw new WorkflowValidationException($"Approval action '{action}' is invalid: SwitchTraffic or Complete."),
    };
}

/// <summary>
/// A signed approval: <paramref name="Approver"/> approves the pending <paramref name="Action"/> of one workflow
/// (<paramref name="InstanceId"/>) in one traffic generation (<paramref name="Generation"/>), once
/// (<paramref name="Nonce"/>) and until <paramref name="ExpiresAt"/> (unix seconds). The signature is HMAC-SHA256 with
/// the approver's key over <see cref="Canonical"/>, hex encoded. The same JSON object is the body of
/// <c>POST /api/movetables/{ks}/{wf}/approve</c> and a message of the approvals queue (docs/approvals.md).
/// </summary>
public sealed record SignedApproval(
    [property: JsonPropertyName("instance_id")] string InstanceId,
    [property: JsonPropertyName("action")] string Action,
    [property: JsonPropertyName("generation")] long Generation,
    [property: JsonPropertyName("approver")] string Approver,
    [property: JsonPropertyName("nonce")] string Nonce,
    [property: JsonPropertyName("expires_at")] long ExpiresAt,
    [property: JsonPropertyName("signature")] string Signature)
{
    /// <summary>
    /// The first line of the signed text. v2 added the traffic generation; a v1 approval (no generation) could be
    /// spent in any later traffic state, so v1 is no longer accepted.
    /// </summary>
    public const string CanonicalPrefix = "durable-approval-v2";

    /// <summary>The payload's fields, in the order of the canonical text (the signature last).</summary>
    public static readonly IReadOnlyList<string> Fields = ["instance_id", "action", "generation", "approver", "nonce", "expires_at", "signature"];

    /// <summary>What is signed: one field per line, so no field can run into the next.</summary>
    public static string Canonical(string instanceId, string action, long generation, string approver, string nonce, long expiresAt) =>
        string.Join('\n', CanonicalPrefix, instanceId, action, generation.ToString(CultureInfo.InvariantCulture), approver, nonce,
            expiresAt.ToString(CultureInfo.InvariantCulture));

    /// <summary>This approval's canonical text.</summary>
    public string Canonical() => Canonical(InstanceId, Action, Generation, Approver, Nonce, ExpiresAt);

    public static SignedApproval Sign(byte[] key, string instanceId, string action, long generation, string approver, string nonce, DateTimeOffset expiresAt)
    {
        var exp = expiresAt.ToUnixTimeSeconds();
        var mac = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(Canonical(instanceId, action, generation, approver, nonce, exp)));
        return new SignedApproval(instanceId, action, generation, approver, nonce, exp, Convert.ToHexStringLower(mac));
    }

    /// <summary>
    /// Reads the documented payload and nothing else: a JSON object with exactly <see cref="Fields"/>, strings where
    /// strings are due, whole numbers for generation and expires_at, action spelled SwitchTraffic or Complete. The
    /// message of the <see cref="WorkflowValidationException"/> names the first thing wrong; the signature is not
    /// checked here.
    /// </summary>
    public static SignedApproval Parse(string json)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new WorkflowValidationException($"The approval is not JSON ({e.Message}); send one object with {string.Join(", ", Fields)}.");
        }

        using (doc)
        {
            return Parse(doc.RootElement);
        }
    }

    /// <inheritdoc cref="Parse(string)"/>
    public static SignedApproval Parse(JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw new WorkflowValidationException($"The approval is a JSON {e.ValueKind.ToString().ToLowerInvariant()}, not an object with {string.Join(", ", Fields)}.");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in e.EnumerateObject())
        {
            if (!Fields.Contains(p.Name, StringComparer.Ordinal))
            {
                throw new WorkflowValidationException(
                    $"The approval has an unknown field '{p.Name}': an approval has exactly {string.Join(", ", Fields)} (docs/approvals.md); " +
                    "the approvals queue no longer takes instanceId/eventName/payload messages.");
            }

            if (!seen.Add(p.Name))
            {
                throw new WorkflowValidationException($"The approval has the field '{p.Name}' twice.");
            }
        }

        var missing = Fields.Where(f => !seen.Contains(f)).ToList();
        if (missing.Count > 0)
        {
            var hint = missing.Contains("generation") ? $" (approvals without a generation, signed as durable-approval-v1, are no longer accepted: sign {CanonicalPrefix})" : "";
            throw new WorkflowValidationException($"The approval lacks {string.Join(", ", missing)}{hint}.");
        }

        var action = Text(e, "action");
        if (action is not (ApprovalActions.SwitchTraffic or ApprovalActions.Complete))
        {
            throw new WorkflowValidationException($"The approval's action '{action}' is invalid: SwitchTraffic or Complete, spelled so (it is part of the signed text).");
        }

        var generation = Whole(e, "generation");
        if (generation < 0)
        {
            throw new WorkflowValidationException($"The approval's generation {generation} is invalid: the workflow's traffic_generation, 0 or more.");
        }

        return new SignedApproval(Text(e, "instance_id"), action, generation, Text(e, "approver"), Text(e, "nonce"), Whole(e, "expires_at"), Text(e, "signature"));
    }

    private static string Text(JsonElement e, string name)
    {
        var v = e.GetProperty(name);
        if (v.ValueKind != JsonValueKind.String || v.GetString() is not { Length: > 0 and <= 512 } s)
        {
            throw new WorkflowValidationException($"The approval's {name} must be a non-empty string of at most 512 characters; it is {Shown(v)}.");
        }

        if (s.Contains('\n', StringComparison.Ordinal))
        {
            // The canonical text has one field per line: a newline inside a field could make two payloads sign alike.
            throw new WorkflowValidationException($"The approval's {name} contains a line break, which no field may.");
        }

        return s;
    }

    private static long Whole(JsonElement e, string name)
    {
        var v = e.GetProperty(name);
        return v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n)
            ? n
            : throw new WorkflowValidationException($"The approval's {name} must be a whole number; it is {Shown(v)}.");
    }

    private static string Shown(JsonElement v)
    {
        var raw = v.GetRawText();
        return v.ValueKind + " " + (raw.Length > 40 ? raw[..40] + "…" : raw);
    }
}

/// <summary>
/// Set by the workflow, never by a caller: the approval a pending command was released on, so the command runs only
/// in the traffic generation the approval named (a caller's value is dropped when the command arrives).
/// </summary>
public sealed record ApprovalGrant(
    [property: JsonPropertyName("approver")] string Approver,
    [property: JsonPropertyName("nonce")] string Nonce,
    [property: JsonPropertyName("generation")] long Generation);
