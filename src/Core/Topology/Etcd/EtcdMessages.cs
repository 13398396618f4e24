using Etcdserverpb;
using Google.Protobuf;
using Mvccpb;

namespace Durable.Topology.Etcd;

/// <summary>
/// Translation between the project's etcd records (<see cref="EtcdKeyValue"/>, <see cref="EtcdCompare"/>,
/// <see cref="EtcdOp"/>) and dotnet-etcd's protobuf messages, so nothing outside this folder depends on the package.
/// </summary>
internal static class EtcdMessages
{
    public static ByteString Bytes(byte[] bytes) => ByteString.CopyFrom(bytes);

    public static EtcdKeyValue KeyValue(KeyValue kv) => new(
        kv.Key.ToByteArray(), kv.Value.ToByteArray(), kv.CreateRevision, kv.ModRevision, kv.Version, kv.Lease);

    public static EtcdRangeResult Range(RangeResponse response) =>
        new([.. response.Kvs.Select(KeyValue)], response.More, response.Count, response.Header?.Revision ?? 0);

    public static RangeRequest RangeRequest(byte[] key, byte[]? rangeEnd, long limit = 0, long revision = 0, bool keysOnly = false)
    {
        var request = new RangeRequest { Key = Bytes(key), Limit = limit, Revision = revision, KeysOnly = keysOnly };
        if (rangeEnd is not null)
        {
            request.RangeEnd = Bytes(rangeEnd);
        }

        return request;
    }

    public static TxnRequest Txn(IEnumerable<EtcdCompare> compares, IEnumerable<EtcdOp> success, IEnumerable<EtcdOp>? failure)
    {
        var txn = new TxnRequest();
        txn.Compare.AddRange(compares.Select(Compare));
        txn.Success.AddRange(success.Select(Op));
        txn.Failure.AddRange((failure ?? []).Select(Op));
        return txn;
    }

    public static EtcdTxnResult TxnResult(TxnResponse response) => new(
        response.Succeeded,
        response.Header?.Revision ?? 0,
        [.. response.Responses.Where(r => r.ResponseCase == ResponseOp.ResponseOneofCase.ResponseRange).Select(r => Range(r.ResponseRange))]);

    public static EtcdEvent Event(Mvccpb.Event e) =>
        new(e.Type == Mvccpb.Event.Types.EventType.Delete ? EtcdEventType.Delete : EtcdEventType.Put, KeyValue(e.Kv));

    private static Compare Compare(EtcdCompare compare)
    {
        var result = new Compare
        {
            Key = Bytes(compare.Key),
            Result = compare.Result switch
            {
                EtcdCompareResult.Equal => Etcdserverpb.Compare.Types.CompareResult.Equal,
                EtcdCompareResult.Greater => Etcdserverpb.Compare.Types.CompareResult.Greater,
                EtcdCompareResult.Less => Etcdserverpb.Compare.Types.CompareResult.Less,
                _ => Etcdserverpb.Compare.Types.CompareResult.NotEqual,
            },
        };
        switch (compare.Target)
        {
            case EtcdCompareTarget.Version:
                result.Target = Etcdserverpb.Compare.Types.CompareTarget.Version;
                result.Version = compare.Number;
                break;
            case EtcdCompareTarget.Create:
                result.Target = Etcdserverpb.Compare.Types.CompareTarget.Create;
                result.CreateRevision = compare.Number;
                break;
            case EtcdCompareTarget.Mod:
                result.Target = Etcdserverpb.Compare.Types.CompareTarget.Mod;
                result.ModRevision = compare.Number;
                break;
            default:
                result.Target = Etcdserverpb.Compare.Types.CompareTarget.Value;
                result.Value = Bytes(compare.Value ?? []);
                break;
        }

        return result;
    }

    private static RequestOp Op(EtcdOp op) => op switch
    {
        EtcdPut put => new RequestOp { RequestPut = new PutRequest { Key = Bytes(put.Key), Value = Bytes(put.Value), Lease = put.Lease } },
        EtcdGet get => new RequestOp { RequestRange = RangeRequest(get.Key, get.RangeEnd) },
        EtcdDelete delete => new RequestOp { RequestDeleteRange = DeleteRequest(delete.Key, delete.RangeEnd) },
        _ => throw new ArgumentException($"Unknown etcd operation {op.GetType().Name}."),
    };

    public static DeleteRangeRequest DeleteRequest(byte[] key, byte[]? rangeEnd)
    {
        var request = new DeleteRangeRequest { Key = Bytes(key) };
        if (rangeEnd is not null)
        {
            request.RangeEnd = Bytes(rangeEnd);
        }

        return request;
    }
}
