using System.Reflection;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Durable.Core.Positions;
using Durable.MySql.Protocol;
using Durable.MySql.Sql;

namespace Durable.MySql.Binlog;

/// <summary>
/// Compiles what a starting binlog stream runs, once per process, on a thread-pool thread while the stream's own
/// thread connects. A stream's start is CPU-bound (the round trips to a local server take microseconds, compiling
/// the ~700 methods of connect, handshake, queries, dump and first events takes a large part of the start), and with
/// two cores the second one would otherwise sit idle. Order is by when the stream first needs each part: the SHA-1
/// provider (mysql_native_password, loads the crypto library), the query path used right after authentication, the
/// stream's start and first events, and last the row-decoding path — compiled fully optimised
/// (<see cref="MethodImplOptions.AggressiveOptimization"/>) and so the most expensive, but needed only at the first
/// ROWS event. Methods the stream thread reaches first are simply compiled there (a method is compiled once); the
/// rest compile at the tier they would get anyway (quick JIT, then tiered up when hot).
/// </summary>
internal static class StreamWarmUp
{
    private const BindingFlags All = BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;

    /// <summary>What a stream runs between authentication and its first ROWS event, in that order.</summary>
    internal static readonly (Type Type, string[] Methods)[] StreamStart =
    [
        (typeof(MySqlConnection), ["QueryScalarAsync", "QueryAsync", "ExecuteAsync", "BeginCommandAsync", "SendCommandAsync"]),
        (typeof(MySqlDataReader), ["ReadResultHeaderAsync", "ReadAsync", "ParseRow", "FinishStatementAsync", "DisposeAsync"]),
        (typeof(CommandGuard), [".ctor", "DisposeAsync"]),
        (typeof(OkPacket), ["Parse"]),
        (typeof(SqlQuoter), ["String"]),
        (typeof(GtidPosition), ["ToString", "AtLeast", "Contains", "Add"]),
        (typeof(BinlogStream), ["StartOnAsync", "WriteShortString", ".ctor", "ReadEventAsync", "ReadEventSlowAsync", "Decode", "Track", "Commit", "NeedsExtendedTypes"]),
        (typeof(BinlogReadAhead), [".ctor", "ReadLoopAsync", "TryNext", "NextAsync", "Release"]),
        (typeof(BinlogEventParser), [
            ".ctor", "VerifyChecksum", "CheckCrc", "FormatDescriptionHasCrc", "ParseOwned", "Parse", "ParseRotate", "ParseFormatDescription",
            "ParseGtidList", "ParseCheckpoint", "ParseMariaDbGtid", "ParseQuery", "ParseTableMap", "PostHeaderLength", "PresentIndexes"]),
        (typeof(TableMap), ["Parse", "ParseOptionalMetadata", "IsNumeric", "IsCharacter"]),
    ];

    /// <summary>The per-row path, marked AggressiveOptimization.</summary>
    internal static readonly (Type Type, string[] Methods)[] RowDecoding =
    [
        (typeof(BinlogEventParser), [
            "ParseRows", "ReadImage", "DecodeValue", "DecodeString", "CharacterBytes", "Number", "Text", "Bytes", "ReadBitmap"]),
    ];

    public static void Run()
    {
        // The crypto library loads on first use; mysql_native_password needs SHA-1 right after the server's greeting.
        Span<byte> digest = stackalloc byte[SHA1.HashSizeInBytes];
        SHA1.HashData(ReadOnlySpan<byte>.Empty, digest);
        Prepare(StreamStart);
        Prepare(RowDecoding);
        Crc32.Compute(new byte[64]);
    }

    private static void Prepare((Type Type, string[] Methods)[] groups)
    {
        foreach (var (type, names) in groups)
        {
            foreach (var method in Resolve(type, names))
            {
                RuntimeHelpers.PrepareMethod(method.MethodHandle);
            }
        }
    }

    /// <summary>
    /// The methods of <paramref name="type"/> with these names, constructors as ".ctor", and for an async method the
    /// MoveNext of its state machine (the method itself only starts it). Generic methods are left out (they compile
    /// per instantiation).
    /// </summary>
    internal static IEnumerable<MethodBase> Resolve(Type type, IEnumerable<string> names)
    {
        var methods = type.GetMethods(All);
        foreach (var name in names)
        {
            var candidates = name == ".ctor"
                ? type.GetConstructors(All).Cast<MethodBase>()
                : methods.Where(m => m.Name == name && !m.ContainsGenericParameters);
            foreach (var method in candidates)
            {
                yield return method;
                if (method.GetCustomAttribute<AsyncStateMachineAttribute>() is { } async &&
                    async.StateMachineType.GetMethod("MoveNext", All) is { } moveNext)
                {
                    yield return moveNext;
                }
            }
        }
    }
}
