using System.Security.Cryptography;
using Durable.MySql.Auth;

namespace Durable.Gateway;

/// <summary>
/// The gateway's accounts, checked as mysql_native_password does: the client proves it knows the password by
/// SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))). Compared in constant time; an unknown user is checked
/// against a dummy password so the answer takes as long as for a known one.
/// </summary>
internal sealed class ClientCredentials
{
    private readonly Dictionary<string, string> _passwords;

    public ClientCredentials(IEnumerable<GatewayAccount> accounts)
    {
        _passwords = accounts.ToDictionary(a => a.User, a => a.Password, StringComparer.Ordinal);
    }

    public bool Verify(string user, ReadOnlySpan<byte> scramble, ReadOnlySpan<byte> response)
    {
        var known = _passwords.TryGetValue(user, out var password);
        var expected = AuthPlugins.NativePasswordResponse(known ? password! : "\u0001not a password\u0001", scramble);
        // An empty password is answered with an empty response; FixedTimeEquals compares lengths first.
        return CryptographicOperations.FixedTimeEquals(expected, response) & known;
    }
}
