using System.Text;
using Durable.MySql.Auth;

namespace Durable.MySql.Tests.Unit;

public sealed class AuthTests
{
    private static readonly byte[] Scramble = Enumerable.Range(1, 20).Select(i => (byte)i).ToArray();

    [Fact]
    public void Native_password_scramble_matches_the_reference_computation()
    {
        Assert.Equal("b32bb3a583e1340c0a1108d58b1be49781ad8c2f", Convert.ToHexStringLower(AuthPlugins.NativePasswordResponse("secret", Scramble)));
        Assert.Empty(AuthPlugins.NativePasswordResponse(string.Empty, Scramble));
    }

    [Fact]
    public void Caching_sha2_scramble_matches_the_reference_computation() =>
        Assert.Equal("746ebe205d56a0707acb3e796e834e0dd7b1d61743b26bd5202c7a623230c7c9", Convert.ToHexStringLower(AuthPlugins.CachingSha2Response("secret", Scramble)));

    // RFC 8032 section 7.1 test vectors. MariaDB's variant hashes the whole password where Ed25519 hashes the 32-byte
    // seed, so with the seed bytes as the "password" the two must agree.
    [Theory]
    [InlineData("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")]
    [InlineData("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb", "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00")]
    public void Ed25519_matches_rfc8032(string seed, string publicKey, string message, string signature)
    {
        var seedBytes = Convert.FromHexString(seed);
        Assert.Equal(publicKey, Convert.ToHexStringLower(Ed25519Signer.PublicKey(seedBytes)));
        Assert.Equal(signature, Convert.ToHexStringLower(Ed25519Signer.Sign(seedBytes, Convert.FromHexString(message))));
    }

    [Fact]
    public void Ed25519_signature_depends_on_password_and_message()
    {
        var a = Ed25519Signer.Sign(Encoding.UTF8.GetBytes("pw"), Scramble);
        Assert.Equal(64, a.Length);
        Assert.NotEqual(a, Ed25519Signer.Sign(Encoding.UTF8.GetBytes("pw2"), Scramble));
        Assert.NotEqual(a, Ed25519Signer.Sign(Encoding.UTF8.GetBytes("pw"), Scramble.Reverse().ToArray()));
    }
}
