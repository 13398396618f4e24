using System.Security.Cryptography;
using System.Text;

namespace Durable.Workflows;

/// <summary>
/// The outcome of checking an approval; <see cref="Reason"/> says why it was refused. <see cref="Generation"/> is the
/// traffic generation the approval named.
/// </summary>
public sealed record ApprovalVerdict(bool Accepted, string Reason, string Approver, string Action, long Generation = 0);

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
    /// <summary>
    /// Records the nonce as spent by <paramref name="spentBy"/> (what it approved: the pending command's request id).
    /// True when it was unused, or spent by the same <paramref name="spentBy"/> before (a redelivered check); false when
    /// something else spent it.
    /// </summary>
    Task<bool> TryUseAsync(string instanceId, string nonce, DateTimeOffset expiresAt, string spentBy, CancellationToken ct);
}

/// <summary>
/// The signature half of the check, which needs only the approver keys: the HTTP approve endpoint and the approvals
/// queue run it before anything reaches the workflow, so a forged approval never does.
/// </summary>
public static class ApprovalSignature
{
    /// <summary>Null when the approval is signed by its approver's configured key; otherwise why not.</summary>
    public static string? Refusal(IApproverKeys keys, SignedApproval approval)
    {
        if (string.IsNullOrEmpty(approval.Approver) || !Names.IsSimpleName(approval.Approver))
        {
            return $"approver '{approval.Approver}' is not a valid approver name (letters, digits, '_', '-', '.', '@')";
        }

        var key = keys.KeyOf(approval.Approver);
        if (key is null)
        {
            return $"no key is configured for approver '{approval.Approver}' on this host ({ConfiguredApproverKeys.Setting})";
        }

        byte[] given;
        try
        {
            given = Convert.FromHexString(approval.Signature ?? "");
        }
        catch (FormatException)
        {
            return "bad signature: not hex (HMAC-SHA256, 64 hex digits)";
        }

        var expected = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(approval.Canonical()));
        return CryptographicOperations.FixedTimeEquals(expected, given)
            ? null
            : $"bad signature: not HMAC-SHA256 of the {SignedApproval.CanonicalPrefix} text with {approval.Approver}'s key " +
              "(durable-approval-v1 approvals, without a generation, are no longer accepted)";
    }
}

/// <summary>
/// Checks an approval against the workflow as it is: signed by the approver's key, from an approver the workflow names,
/// for the action that is pending and the traffic generation the workflow is in, not expired, and the nonce not used
/// before. The nonce is consumed only when everything else holds, so a forged or misdirected message cannot burn a real
/// approver's nonce.
/// </summary>
public sealed class ApprovalVerifier(IApproverKeys keys, INonceStore nonces, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>At most this far in the future: a longer-lived approval is refused rather than trusted for a year.</summary>
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromDays(7);

    public IApproverKeys Keys => keys;

    public async Task<ApprovalVerdict> VerifyAsync(VerifyApprovalRequest request, CancellationToken ct)
    {
        var approval = request.Approval;
        ApprovalVerdict Refuse(string reason) => new(false, reason, approval.Approver ?? "", approval.Action ?? "", approval.Generation);

        string action;
        try
        {
            action = ApprovalActions.Normalize(approval.Action ?? "");
        }
        catch (WorkflowValidationException e)
        {
            return Refuse(e.Message);
        }

        if (!string.Equals(approval.InstanceId, request.InstanceId, StringComparison.Ordinal))
        {
            return Refuse($"approval is for instance '{approval.InstanceId}', not '{request.InstanceId}'");
        }

        if (string.IsNullOrEmpty(approval.Approver) || !request.Approvers.Contains(approval.Approver, StringComparer.Ordinal))
        {
            return Refuse($"'{approval.Approver}' is not an approver of this workflow (approvers: {string.Join(", ", request.Approvers)})");
        }

        if (string.IsNullOrEmpty(approval.Nonce) || approval.Nonce.Length > 64 || !Names.IsSimpleName(approval.Nonce))
        {
            return Refuse("nonce is missing or invalid: 1 to 64 letters, digits, '_', '-', '.', '@'");
        }

        if (ApprovalSignature.Refusal(keys, approval) is { } bad)
        {
            return Refuse(bad);
        }

        // Only a command that waits for it can be approved, in the generation it waits in: an approval given ahead
        // would otherwise wait in the state and be spent later, after the traffic had moved.
        if (request.PendingAction is null)
        {
            return Refuse($"nothing is pending: an approval is accepted only for a command that waits for one (traffic generation {request.Generation}); send {action} first, then approve it");
        }

        if (!string.Equals(action, request.PendingAction, StringComparison.Ordinal))
        {
            return Refuse($"{action} is not the pending action: {request.PendingAction} is pending in traffic generation {request.Generation}");
        }

        if (approval.Generation != request.Generation)
        {
            return Refuse($"the approval is for traffic generation {approval.Generation}, but the workflow is in traffic generation {request.Generation} " +
                $"({request.PendingAction} is pending); approve generation {request.Generation}");
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

        if (!await nonces.TryUseAsync(request.InstanceId, approval.Nonce, expires, request.PendingId ?? "", ct).ConfigureAwait(false))
        {
            return Refuse($"approval nonce '{approval.Nonce}' was already used (replayed)");
        }

        return new ApprovalVerdict(true, "accepted", approval.Approver, action, approval.Generation);
    }
}

/// <summary>For unit tests and single-process hosts: nonces in memory.</summary>
public sealed class InMemoryNonceStore : INonceStore
{
    private readonly Dictionary<string, string> _used = new(StringComparer.Ordinal);

    public Task<bool> TryUseAsync(string instanceId, string nonce, DateTimeOffset expiresAt, string spentBy, CancellationToken ct)
    {
        lock (_used)
        {
            var key = instanceId + "\n" + nonce;
            if (_used.TryGetValue(key, out var by))
            {
                return Task.FromResult(by == spentBy);
            }

            _used[key] = spentBy;
            return Task.FromResult(true);
        }
    }
}
