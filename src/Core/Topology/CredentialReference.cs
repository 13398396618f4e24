using System.Text.RegularExpressions;

namespace Durable.Topology;

/// <summary>
/// Where a tablet's password is kept: <c>secret:NAME</c> (a key in the secrets file, e.g. the local cluster's
/// <c>.local/secrets.env</c>, or a mounted secret store) or <c>env:NAME</c> (an environment variable). The topology stores
/// only this reference; the password is looked up where the connection is made.
/// </summary>
public static partial class CredentialReference
{
    [GeneratedRegex("^(secret|env):[A-Za-z_][A-Za-z0-9_]{0,127}$")]
    private static partial Regex Pattern();

    public static void Validate(string reference, string owner)
    {
        if (!Pattern().IsMatch(reference ?? ""))
        {
            // The value itself is not echoed: someone may have pasted a password here by mistake.
            throw new TopologyValidationException(
                $"The password reference of {owner} is not of the form secret:NAME or env:NAME (e.g. secret:DURABLE_FILTERED_PASSWORD); the topology never stores a password itself.");
        }
    }

    /// <summary>
    /// Reads a secrets file of <c>NAME=value</c> lines (the local cluster's <c>.local/secrets.env</c> format; '#' starts a
    /// comment line). A missing file is an empty set: references then resolve from the environment.
    /// </summary>
    public static IReadOnlyDictionary<string, string> LoadSecretsFile(string? path)
    {
        var secrets = new Dictionary<string, string>(StringComparer.Ordinal);
        if (string.IsNullOrWhiteSpace(path) || !File.Exists(path))
        {
            return secrets;
        }

        foreach (var line in File.ReadLines(path))
        {
            var text = line.Trim();
            var eq = text.IndexOf('=');
            if (text.Length == 0 || text.StartsWith('#') || eq <= 0)
            {
                continue;
            }

            secrets[text[..eq].Trim()] = text[(eq + 1)..];
        }

        return secrets;
    }

    /// <summary>Looks the password up: <c>secret:</c> in <paramref name="secrets"/> (then the environment), <c>env:</c> in the environment.</summary>
    public static string Resolve(string reference, IReadOnlyDictionary<string, string>? secrets = null)
    {
        Validate(reference, "this tablet");
        var colon = reference.IndexOf(':');
        var kind = reference[..colon];
        var name = reference[(colon + 1)..];
        if (kind == "secret" && secrets is not null && secrets.TryGetValue(name, out var secret))
        {
            return secret;
        }

        return Environment.GetEnvironmentVariable(name)
               ?? throw new TopologyException(
                   $"Password reference {reference} cannot be resolved: {(kind == "secret" ? "no such secret and no" : "no")} environment variable {name} is set.");
    }
}
