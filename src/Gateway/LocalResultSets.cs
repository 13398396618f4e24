using Durable.MySql.Protocol;
using Durable.Routing;
using Durable.Topology;

namespace Durable.Gateway;

/// <summary>
/// The statements the gateway answers from the topology, as vtgate does: SHOW VITESS_TABLETS (the seeds' columns:
/// Cell, Keyspace, Shard, TabletType, State, Alias, Hostname, PrimaryTermStartTime), SHOW VITESS_KEYSPACES
/// and SHOW DATABASES (Database: the keyspaces) and SHOW VITESS_SHARDS (Shards, as keyspace/shard). All values are text (VAR_STRING, utf8mb4).
/// </summary>
internal static class LocalResultSets
{
    private static readonly string[] TabletColumns = ["Cell", "Keyspace", "Shard", "TabletType", "State", "Alias", "Hostname", "PrimaryTermStartTime"];

    public static void Write(LocalCommand command, IGatewayTopology topology, ClientPacketWriter client, bool deprecateEof, ServerStatus status)
    {
        switch (command)
        {
            case LocalCommand.ShowVitessTablets:
                WriteResultSet(client, deprecateEof, status, TabletColumns, topology.Tablets
                    .OrderBy(t => t.Keyspace, StringComparer.Ordinal).ThenBy(t => t.Shard, StringComparer.Ordinal).ThenBy(t => t.Uid)
                    .Select(t => new[] { t.Cell, t.Keyspace, t.Shard, TabletTypes.Name(t.TabletType), "SERVING", t.Alias, t.Host, string.Empty }));
                break;
            case LocalCommand.ShowVitessKeyspaces or LocalCommand.ShowDatabases:
                WriteResultSet(client, deprecateEof, status, ["Database"], topology.Current.Keyspaces.Keys
                    .Order(StringComparer.Ordinal).Select(k => new[] { k }));
                break;
            case LocalCommand.ShowVitessShards:
                WriteResultSet(client, deprecateEof, status, ["Shards"], topology.Tablets
                    .Select(t => $"{t.Keyspace}/{t.Shard}").Distinct().Order(StringComparer.Ordinal).Select(s => new[] { s }));
                break;
            default:
                throw new GatewaySqlException(GatewaySqlException.NotSupported, "42000", $"The gateway cannot answer local command {command}.");
        }
    }

    public static void WriteResultSet(ClientPacketWriter client, bool deprecateEof, ServerStatus status, IReadOnlyList<string> columns, IEnumerable<string?[]> rows)
    {
        var w = client.Scratch();
        w.WriteLengthEncoded((ulong)columns.Count);
        client.WriteScratch();
        foreach (var column in columns)
        {
            w = client.Scratch();
            w.WriteLengthEncodedBytes("def"u8);
            w.WriteLengthEncoded(0); // schema
            w.WriteLengthEncoded(0); // table
            w.WriteLengthEncoded(0); // org_table
            w.WriteLengthEncodedBytes(ClientPacketWriter.Utf8(column));
            w.WriteLengthEncodedBytes(ClientPacketWriter.Utf8(column));
            w.WriteByte(0x0C);
            w.WriteUInt16(GatewayServerInfo.Utf8Mb4GeneralCi);
            w.WriteUInt32(1024);
            w.WriteByte(0xFD); // VAR_STRING
            w.WriteUInt16(0);
            w.WriteByte(0);
            w.WriteUInt16(0);
            client.WriteScratch();
        }

        if (!deprecateEof)
        {
            client.WriteEof(status);
        }

        foreach (var row in rows)
        {
            w = client.Scratch();
            foreach (var value in row)
            {
                if (value is null)
                {
                    w.WriteByte(0xFB);
                }
                else
                {
                    w.WriteLengthEncodedBytes(ClientPacketWriter.Utf8(value));
                }
            }

            client.WriteScratch();
        }

        client.WriteEnd(deprecateEof, status);
    }
}
