using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Configuration;

namespace Durable.Functions.Http;

/// <summary>Who may call an HTTP trigger, as in Azure Functions.</summary>
public enum AuthorizationLevel
{
    /// <summary>No key needed; only for functions that declare it (health).</summary>
    Anonymous,

    /// <summary>The function's own key, the host key or the master key.</summary>
    Function,

    /// <summary>Only the master key.</summary>
    Admin,
}

public enum KeyCheckOutcome
{
    Allowed,
    Missing,
    Invalid,
    NotConfigured,
}

public readonly record struct KeyCheck(KeyCheckOutcome Outcome, string? Message)
{
    public bool IsAllowed => Outcome == KeyCheckOutcome.Allowed;
}

/// <summary>
/// The function keys this host accepts, read from configuration (app settings / environment / local.settings.json):
/// <list type="bullet">
/// <item><c>DURABLE_MASTER_KEY</c>: the admin key, valid for every function and the only key for Admin-level ones.</item>
/// <item><c>DURABLE_HOST_KEY</c>: valid for every Function-level trigger and the durable management API.</item>
/// <item><c>DURABLE_FUNCTION_KEY_&lt;FunctionName&gt;</c>: valid for that one function (the management API's
/// function name is <c>durabletask</c>).</item>
/// </list>
/// A key travels in the <c>x-functions-key</c> header or the <c>code</c> query parameter. Keys are compared in constant
/// time and never logged or echoed in error bodies.
/// </summary>
public sealed class FunctionKeys
{
    public const string HeaderName = "x-functions-key";
    public const string QueryName = "code";
    public const string MasterKeySetting = "DURABLE_MASTER_KEY";
    public const string HostKeySetting = "DURABLE_HOST_KEY";
    public const string FunctionKeyPrefix = "DURABLE_FUNCTION_KEY_";

    private readonly byte[]? _master;
    private readonly byte[]? _host;
    private readonly Dictionary<string, byte[]> _functions;

    public FunctionKeys(string? masterKey, string? hostKey, IReadOnlyDictionary<string, string>? functionKeys = null)
    {
        _master = Bytes(masterKey);
        _host = Bytes(hostKey);
        _functions = new Dictionary<string, byte[]>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, key) in functionKeys ?? new Dictionary<string, string>())
        {
            if (Bytes(key) is { } b)
            {
                _functions[name] = b;
            }
        }
    }

    public static FunctionKeys FromConfiguration(IConfiguration configuration)
    {
        var perFunction = configuration.AsEnumerable()
            .Where(p => p.Key.StartsWith(FunctionKeyPrefix, StringComparison.OrdinalIgnoreCase) && !string.IsNullOrEmpty(p.Value))
            .ToDictionary(p => p.Key[FunctionKeyPrefix.Length..], p => p.Value!, StringComparer.OrdinalIgnoreCase);
        return new FunctionKeys(configuration[MasterKeySetting], configuration[HostKeySetting], perFunction);
    }

    /// <summary>Whether <paramref name="presented"/> opens <paramref name="functionName"/> at <paramref name="level"/>.</summary>
    public KeyCheck Check(string functionName, AuthorizationLevel level, string? presented)
    {
        if (level == AuthorizationLevel.Anonymous)
        {
            return new KeyCheck(KeyCheckOutcome.Allowed, null);
        }

        var candidates = new List<byte[]>(3);
        if (_master is not null)
        {
            candidates.Add(_master);
        }

        if (level == AuthorizationLevel.Function)
        {
            if (_host is not null)
            {
                candidates.Add(_host);
            }

            if (_functions.TryGetValue(functionName, out var own))
            {
                candidates.Add(own);
            }
        }

        if (candidates.Count == 0)
        {
            var settings = level == AuthorizationLevel.Admin
                ? MasterKeySetting
                : $"{HostKeySetting}, {FunctionKeyPrefix}{functionName} or {MasterKeySetting}";
            return new KeyCheck(KeyCheckOutcome.NotConfigured,
                $"Function '{functionName}' requires a {(level == AuthorizationLevel.Admin ? "master" : "function")} key, but the host has none configured; set {settings} in the app settings.");
        }

        if (string.IsNullOrEmpty(presented))
        {
            return new KeyCheck(KeyCheckOutcome.Missing,
                $"Function '{functionName}' requires a{(level == AuthorizationLevel.Admin ? " master" : " function")} key: send it in the '{HeaderName}' header or the '{QueryName}' query parameter.");
        }

        var given = Encoding.UTF8.GetBytes(presented);
        var ok = false;
        foreach (var c in candidates)
        {
            // Check every candidate so the time taken does not reveal which key (if any) nearly matched.
            ok |= CryptographicOperations.FixedTimeEquals(c, given);
        }

        return ok
            ? new KeyCheck(KeyCheckOutcome.Allowed, null)
            : new KeyCheck(KeyCheckOutcome.Invalid,
                $"The key presented for function '{functionName}' is not valid{(level == AuthorizationLevel.Admin ? " (this function takes only the master key)" : "")}.");
    }

    private static byte[]? Bytes(string? key) => string.IsNullOrEmpty(key) ? null : Encoding.UTF8.GetBytes(key);
}
