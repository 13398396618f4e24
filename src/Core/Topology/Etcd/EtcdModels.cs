using System.Text;

namespace Durable.Topology.Etcd;

/// <summary>One key-value pair as etcd stores it, with the revisions that compare-and-swap relies on.</summary>
public sealed record EtcdKeyValue(byte[] Key, byte[] Value, long CreateRevision, long ModRevision, long Version, long Lease)
{
    public string KeyString => Encoding.UTF8.GetString(Key);

    public string ValueString => Encoding.UTF8.GetString(Value);
}

public sealed record EtcdRangeResult(IReadOnlyList<EtcdKeyValue> Kvs, bool More, long Count, long Revision);

public enum EtcdCompareTarget
{
    Version,
    Create,
    Mod,
    Value,
}

public enum EtcdCompareResult
{
    Equal,
    Greater,
    Less,
    NotEqual,
}

/// <summary>One guard of a transaction: compare a key's version, create/mod revision or value.</summary>
public sealed record EtcdCompare(byte[] Key, EtcdCompareTarget Target, EtcdCompareResult Result, long Number = 0, byte[]? Value = null)
{
    public static EtcdCompare ModRevisionIs(string key, long modRevision) =>
        new(Encoding.UTF8.GetBytes(key), EtcdCompareTarget.Mod, EtcdCompareResult.Equal, modRevision);

    public static EtcdCompare CreateRevisionIs(string key, long createRevision) =>
        new(Encoding.UTF8.GetBytes(key), EtcdCompareTarget.Create, EtcdCompareResult.Equal, createRevision);

    /// <summary>The key does not exist (its create revision is 0).</summary>
    public static EtcdCompare Absent(string key) => CreateRevisionIs(key, 0);

    public static EtcdCompare VersionIs(string key, long version) =>
        new(Encoding.UTF8.GetBytes(key), EtcdCompareTarget.Version, EtcdCompareResult.Equal, version);

    public static EtcdCompare ValueIs(string key, string value) =>
        new(Encoding.UTF8.GetBytes(key), EtcdCompareTarget.Value, EtcdCompareResult.Equal, 0, Encoding.UTF8.GetBytes(value));
}

/// <summary>One operation inside a transaction branch.</summary>
public abstract record EtcdOp
{
    public static EtcdOp Put(string key, string value, long lease = 0) =>
        new EtcdPut(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(value), lease);

    public static EtcdOp Get(string key) => new EtcdGet(Encoding.UTF8.GetBytes(key), null);

    public static EtcdOp Delete(string key) => new EtcdDelete(Encoding.UTF8.GetBytes(key), null);

    public static EtcdOp DeletePrefix(string prefix) =>
        new EtcdDelete(Encoding.UTF8.GetBytes(prefix), EtcdConnection.PrefixEnd(Encoding.UTF8.GetBytes(prefix)));
}

public sealed record EtcdPut(byte[] Key, byte[] Value, long Lease) : EtcdOp;

public sealed record EtcdGet(byte[] Key, byte[]? RangeEnd) : EtcdOp;

public sealed record EtcdDelete(byte[] Key, byte[]? RangeEnd) : EtcdOp;

/// <summary>What a transaction did: whether the compares held, the revision after it, and the range results read.</summary>
public sealed record EtcdTxnResult(bool Succeeded, long Revision, IReadOnlyList<EtcdRangeResult> Ranges);

public enum EtcdEventType
{
    Put,
    Delete,
}

public sealed record EtcdEvent(EtcdEventType Type, EtcdKeyValue Kv);

/// <summary>
/// One batch from a watch. <see cref="CompactRevision"/> is set when the revision the watch wanted to resume from has
/// been compacted away: events were lost, so the reader must re-read current state; the watch continues from there.
/// </summary>
public sealed record EtcdWatchBatch(IReadOnlyList<EtcdEvent> Events, long Revision, long CompactRevision = 0)
{
    public bool Compacted => CompactRevision > 0;
}

/// <summary>An error etcd itself returned (grpc code and message), e.g. a compacted revision or a bad lease.</summary>
public class EtcdException(string message, int code = 0, Exception? inner = null) : Exception(message, inner)
{
    public int Code { get; } = code;
}

/// <summary>No endpoint could be reached; the message names every endpoint tried and why each failed.</summary>
public sealed class EtcdUnavailableException(string message, Exception? inner = null) : EtcdException(message, 14, inner);
