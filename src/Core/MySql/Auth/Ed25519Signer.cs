using System.Numerics;
using System.Security.Cryptography;

namespace Durable.MySql.Auth;

/// <summary>
/// The Ed25519 signature MariaDB's client_ed25519 plugin expects. It is standard Ed25519 (RFC 8032) except that the
/// secret scalar and nonce prefix come from SHA-512 of the whole password instead of a 32-byte seed, which is why a
/// stock Ed25519 API (that takes exactly 32 seed bytes) cannot be used. Arithmetic is done with BigInteger in
/// extended twisted-Edwards coordinates: one signature per connection attempt, so clarity beats speed here, and a
/// password-dependent timing difference is not observable over a single login.
/// </summary>
public static class Ed25519Signer
{
    private static readonly BigInteger P = BigInteger.Pow(2, 255) - 19;
    private static readonly BigInteger L = BigInteger.Pow(2, 252) + BigInteger.Parse("27742317777372353535851937790883648493", System.Globalization.CultureInfo.InvariantCulture);
    private static readonly BigInteger D = Mod(-121665 * Inverse(121666));
    private static readonly BigInteger D2 = Mod(2 * D);
    private static readonly BigInteger SqrtM1 = BigInteger.ModPow(2, (P - 1) / 4, P);
    private static readonly Point BasePoint = CreateBasePoint();

    /// <summary>Signs <paramref name="message"/> (the server's 32-byte scramble) with the key derived from the password.</summary>
    public static byte[] Sign(ReadOnlySpan<byte> password, ReadOnlySpan<byte> message)
    {
        var az = SHA512.HashData(password);
        az[0] &= 248;
        az[31] &= 63;
        az[31] |= 64;
        var a = FromLittleEndian(az.AsSpan(0, 32));
        var publicKey = Encode(Multiply(BasePoint, a));

        var nonceInput = new byte[32 + message.Length];
        az.AsSpan(32, 32).CopyTo(nonceInput);
        message.CopyTo(nonceInput.AsSpan(32));
        var r = Mod(FromLittleEndian(SHA512.HashData(nonceInput)), L);
        var encodedR = Encode(Multiply(BasePoint, r));

        var hramInput = new byte[64 + message.Length];
        encodedR.CopyTo(hramInput, 0);
        publicKey.CopyTo(hramInput, 32);
        message.CopyTo(hramInput.AsSpan(64));
        var k = Mod(FromLittleEndian(SHA512.HashData(hramInput)), L);
        var s = Mod(r + k * a, L);

        var signature = new byte[64];
        encodedR.CopyTo(signature, 0);
        ToLittleEndian(s, signature.AsSpan(32, 32));
        return signature;
    }

    /// <summary>The public key (what MariaDB stores, base64, in mysql.global_priv) for a password.</summary>
    public static byte[] PublicKey(ReadOnlySpan<byte> password)
    {
        var az = SHA512.HashData(password);
        az[0] &= 248;
        az[31] &= 63;
        az[31] |= 64;
        return Encode(Multiply(BasePoint, FromLittleEndian(az.AsSpan(0, 32))));
    }

    private readonly record struct Point(BigInteger X, BigInteger Y, BigInteger Z, BigInteger T);

    private static Point CreateBasePoint()
    {
        var y = Mod(4 * Inverse(5));
        var x = RecoverX(y);
        return new Point(x, y, 1, Mod(x * y));
    }

    private static BigInteger RecoverX(BigInteger y)
    {
        var xx = Mod((y * y - 1) * Inverse(D * y * y + 1));
        var x = BigInteger.ModPow(xx, (P + 3) / 8, P);
        if (Mod(x * x - xx) != 0)
        {
            x = Mod(x * SqrtM1);
        }

        return x.IsEven ? x : P - x;
    }

    private static Point Add(Point p, Point q)
    {
        var a = Mod((p.Y - p.X) * (q.Y - q.X));
        var b = Mod((p.Y + p.X) * (q.Y + q.X));
        var c = Mod(p.T * D2 * q.T);
        var d = Mod(p.Z * 2 * q.Z);
        var e = b - a;
        var f = d - c;
        var g = d + c;
        var h = b + a;
        return new Point(Mod(e * f), Mod(g * h), Mod(f * g), Mod(e * h));
    }

    private static Point Multiply(Point p, BigInteger scalar)
    {
        var result = new Point(0, 1, 1, 0);
        var addend = p;
        while (scalar > 0)
        {
            if (!scalar.IsEven)
            {
                result = Add(result, addend);
            }

            addend = Add(addend, addend);
            scalar >>= 1;
        }

        return result;
    }

    private static byte[] Encode(Point p)
    {
        var zInv = Inverse(p.Z);
        var x = Mod(p.X * zInv);
        var y = Mod(p.Y * zInv);
        var bytes = new byte[32];
        ToLittleEndian(y, bytes);
        if (!x.IsEven)
        {
            bytes[31] |= 0x80;
        }

        return bytes;
    }

    private static BigInteger FromLittleEndian(ReadOnlySpan<byte> bytes) => new(bytes, isUnsigned: true, isBigEndian: false);

    private static void ToLittleEndian(BigInteger value, Span<byte> target)
    {
        target.Clear();
        value.TryWriteBytes(target, out _, isUnsigned: true, isBigEndian: false);
    }

    private static BigInteger Mod(BigInteger v) => Mod(v, P);

    private static BigInteger Mod(BigInteger v, BigInteger m)
    {
        var r = BigInteger.Remainder(v, m);
        return r.Sign < 0 ? r + m : r;
    }

    private static BigInteger Inverse(BigInteger v) => BigInteger.ModPow(Mod(v), P - 2, P);
}
