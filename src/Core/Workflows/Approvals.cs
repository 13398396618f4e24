using System.Security.Cryptography;
using System.Text;

namespace Durable.Workflows;

/// <summary>The outcome of checking an approval; <see cref="Reason"/> says why it was refused.</summary>
public sealed record ApprovalVerdict(bool Accepted, string Reason, string Approver, string Action);

/// <summary>Where approver keys come from (configuration or secrets, never the topology or the history).</summary>
public interface IApproverKeys
{
    byte[]? KeyOf(string approver);
}

/// <summary>
/// Approver keys from configuration: <c>DURABLE_APPROVER_KEYS</c> = "alice=base64key;bob=base64key". Keys are never logged.
/// </summary>
public sealed class ConfiguredApproverKeys : IApproverKeys
{
    public const string Setting = "DURABLE_APPROVER_KEYS";
    private readonly Dictionary<string, byte[]> _keys;

    public ConfiguredApproverKeys(IReadOnlyDictionary<string, byte[]> keys) => _keys = new(keys, StringComparer.Ordinal);

    public static ConfiguredApproverKeys Parse(string? text)
    {
        var keys = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var entry in Names.SplitList(text?.Replace(';', ',')))
        {
            var eq = entry.IndexOf('=');
            var name = eq > 0 ? entry[..eq] : "";
            if (eq <= 0 || !Names.IsSimpleName(name))
            {
                throw new WorkflowValidationException($"{Setting} has an entry for approver '{name}' that is not approver=base64key.");
            }

            try
            {
                var key = Convert.FromBase64String(entry[(eq + 1)..]);
                if (key.Length < 16)
                {
                    throw new WorkflowValidationException($"{Setting}: the key of approver '{name}' is shorter than 16 bytes.");
                }

                keys[name] = key;
            }
            catch (FormatException)
            {
                // never echo the key itself
                throw new WorkflowValidationException($"{Setting}: the key of approver '{name}' is not base64.");
            }
        }

        return new ConfiguredApproverKeys(keys);
    }

    public byte[]? KeyOf(string approver) => _keys.TryGetValue(approver, out var k) ? k : null;
}

/// <summary>Remembers used nonces so an approval counts once; must be durable and shared by all hosts.</summary>
public interface INonceStore
{
    /// <summary>Records the nonce; false when it was already used.</summary>
    Task<bool> TryUseAsync(string instanceId, string nonce, DateTimeOffset expiresAt, CancellationToken ct);
}

/// <summary>
/// Checks approvals: bound to this instance and action, from an approver the workflow names, with a valid signature,
/// not expired, and the nonce not used before. The nonce is consumed only when everything else holds, so a forged
/// message cannot burn a real approver's nonce.
/// </summary>
public sealed class ApprovalVerifier(IApproverKeys keys, INonceStore nonces, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>At most this far in the future: a longer-lived approval is refused rather than trusted for a year.</summary>
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromDays(7);

    public async Task<ApprovalVerdict> VerifyAsync(SignedApproval approval, string instanceId, IReadOnlyList<string> approvers, CancellationToken ct)
    {
        ApprovalVerdict Refuse(string reason) => new(false, reason, approval.Approver ?? "", approval.Action ?? "");

        string action;
        try
        {
            action = ApprovalActions.Normalize(approval.Action ?? "");
        }
        catch (WorkflowValidationException e)
        {
            return Refuse(e.Message);
        }

        if (!string.Equals(approval.InstanceId, instanceId, StringComparison.Ordinal))
        {
            return Refuse($"approval is for instance '{approval.InstanceId}', not '{instanceId}'");
        }

        if (string.IsNullOrEmpty(approval.Approver) || !approvers.Contains(approval.Approver, StringComparer.Ordinal))
        {
            return Refuse($"'{approval.Approver}' is not an approver of this workflow (approvers: {string.Join(", ", approvers)})");
        }

        if (string.IsNullOrEmpty(approval.Nonce) || approval.Nonce.Length > 128 || !Names.IsSimpleName(approval.Nonce.Length <= 64 ? approval.Nonce : approval.Nonce[..64]))
        {
            return Refuse("nonce is missing or invalid: 1 to 64 letters, digits, '_', '-', '.', '@'");
        }

        var key = keys.KeyOf(approval.Approver);
        if (key is null)
        {
            return Refuse($"no key is configured for approver '{approval.Approver}'");
        }

        var expected = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(
            SignedApproval.Canonical(approval.InstanceId, approval.Action!, approval.Approver, approval.Nonce, approval.ExpiresAt)));
        byte[] given;
        try
        {
            given = Convert.FromHexString(approval.Signature ?? "");
        }
        catch (FormatException)
        {
            return Refuse("bad signature: not hex");
        }

        if (!CryptographicOperations.FixedTimeEquals(expected, given))
        {
            return Refuse("bad signature");
        }

        var now = _time.GetUtcNow();
        var expires = DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(approval.ExpiresAt, 0, 253402300799));
        if (expires <= now)
        {
            return Refuse($"approval expired at {expires:u}");
        }

        if (expires - now > MaxLifetime)
        {
            return Refuse($"approval expires at {expires:u}, more than {MaxLifetime.TotalDays} days ahead");
        }

        if (!await nonces.TryUseAsync(instanceId, approval.Nonce, expires, ct).ConfigureAwait(false))
        {
            return Refuse($"approval nonce '{approval.Nonce}' was already used (replayed)");
        }

        return new ApprovalVerdict(true, "accepted", approval.Approver, action);
    }
}

/// <summary>For unit tests and single-process hosts: nonces in memory.</summary>
public sealed class InMemoryNonceStore : INonceStore
{
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public Task<bool> TryUseAsync(string instanceId, string nonce, DateTimeOffset expiresAt, CancellationToken ct)
    {
        lock (_used)
        {
            return Task.FromResult(_used.Add(instanceId + "\n" + nonce));
        }
    }
}
