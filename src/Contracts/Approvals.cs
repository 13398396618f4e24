using System.Globalization;
using System.Security.Cryptography;
using System.Text;
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
/// A signed approval: <paramref name="Approver"/> approves <paramref name="Action"/> on one orchestration instance,
/// once (<paramref name="Nonce"/>) and until <paramref name="ExpiresAt"/> (unix seconds). The signature is
/// HMAC-SHA256 with the approver's key over the canonical text of the other fields, hex encoded.
/// </summary>
public sealed record SignedApproval(
    [property: JsonPropertyName("instance_id")] string InstanceId,
    [property: JsonPropertyName("action")] string Action,
    [property: JsonPropertyName("approver")] string Approver,
    [property: JsonPropertyName("nonce")] string Nonce,
    [property: JsonPropertyName("expires_at")] long ExpiresAt,
    [property: JsonPropertyName("signature")] string Signature)
{
    /// <summary>What is signed: one field per line, so no field can run into the next.</summary>
    public static string Canonical(string instanceId, string action, string approver, string nonce, long expiresAt) =>
        string.Join('\n', "durable-approval-v1", instanceId, action, approver, nonce, expiresAt.ToString(CultureInfo.InvariantCulture));

    public static SignedApproval Sign(byte[] key, string instanceId, string action, string approver, string nonce, DateTimeOffset expiresAt)
    {
        var exp = expiresAt.ToUnixTimeSeconds();
        var mac = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(Canonical(instanceId, action, approver, nonce, exp)));
        return new SignedApproval(instanceId, action, approver, nonce, exp, Convert.ToHexStringLower(mac));
    }
}
