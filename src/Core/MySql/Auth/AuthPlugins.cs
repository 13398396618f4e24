using System.Security.Cryptography;
using System.Text;

namespace Durable.MySql.Auth;

/// <summary>The scramble computations of the authentication plugins this client speaks.</summary>
public static class AuthPlugins
{
    public const string NativePassword = "mysql_native_password";
    public const string Ed25519 = "client_ed25519";
    public const string CachingSha2 = "caching_sha2_password";
    public const string ClearPassword = "mysql_clear_password";

    public static readonly IReadOnlyList<string> Supported = [NativePassword, Ed25519, CachingSha2, ClearPassword];

    /// <summary>SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))); empty for an empty password.</summary>
    public static byte[] NativePasswordResponse(string password, ReadOnlySpan<byte> scramble)
    {
        if (password.Length == 0)
        {
            return [];
        }

        var stage1 = SHA1.HashData(Encoding.UTF8.GetBytes(password));
        var stage2 = SHA1.HashData(stage1);
        var input = new byte[scramble.Length + stage2.Length];
        scramble.CopyTo(input);
        stage2.CopyTo(input, scramble.Length);
        var mix = SHA1.HashData(input);
        for (var i = 0; i < mix.Length; i++)
        {
            mix[i] ^= stage1[i];
        }

        return mix;
    }

    /// <summary>XOR(SHA256(password), SHA256(SHA256(SHA256(password)) + nonce)), the caching_sha2 fast-auth scramble.</summary>
    public static byte[] CachingSha2Response(string password, ReadOnlySpan<byte> nonce)
    {
        if (password.Length == 0)
        {
            return [];
        }

        var p1 = SHA256.HashData(Encoding.UTF8.GetBytes(password));
        var p2 = SHA256.HashData(p1);
        var input = new byte[p2.Length + nonce.Length];
        p2.CopyTo(input, 0);
        nonce.CopyTo(input.AsSpan(p2.Length));
        var p3 = SHA256.HashData(input);
        for (var i = 0; i < p3.Length; i++)
        {
            p3[i] ^= p1[i];
        }

        return p3;
    }

    /// <summary>The password (NUL-terminated) XOR the nonce, RSA-OAEP encrypted with the server's public key.</summary>
    public static byte[] RsaEncryptPassword(string password, ReadOnlySpan<byte> nonce, string publicKeyPem)
    {
        var clear = Encoding.UTF8.GetBytes(password + "\0");
        for (var i = 0; i < clear.Length; i++)
        {
            clear[i] ^= nonce[i % nonce.Length];
        }

        using var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(publicKeyPem);
        }
        catch (ArgumentException ex)
        {
            throw MySqlException.Client(MySqlErrorCode.AuthPluginNotSupported, "The server's RSA public key is not a valid PEM key: " + ex.Message, ex);
        }

        return rsa.Encrypt(clear, RSAEncryptionPadding.OaepSHA1);
    }
}
