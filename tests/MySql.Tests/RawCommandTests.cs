using Durable.MySql.Protocol;

namespace Durable.MySql.Tests;

/// <summary>The raw command API a proxy relays with: a command payload out, the response packets one by one, the status kept right.</summary>
[Trait("Category", "Integration")]
public sealed class RawCommandTests
{
    private static PayloadWriter Query(string sql)
    {
        var payload = new PayloadWriter();
        payload.WriteByte((byte)CommandKind.Query);
        payload.WriteString(sql);
        return payload;
    }

    [Fact]
    public async Task A_result_set_is_read_packet_by_packet_in_the_negotiated_framing()
    {
        await using var connection = await TestServer.OpenDbaAsync();
        Assert.True(connection.UsesDeprecateEof());
        await connection.SendRawCommandAsync(Query("SELECT 'a' AS x UNION ALL SELECT 'b'"), default);
        var packets = new List<byte[]>();
        while (true)
        {
            var packet = (await connection.ReadRawPacketAsync(default)).ToArray();
            packets.Add(packet);
            if (PacketKind.IsResultSetEnd(packet, deprecateEof: true))
            {
                break;
            }
        }

        // column count, one definition, two rows, the OK-shaped end: no EOF after the definitions under DEPRECATE_EOF.
        Assert.Equal(5, packets.Count);
        Assert.Equal(1, packets[0][0]);
        Assert.Equal([1, (byte)'a'], packets[2]);
        Assert.Equal([1, (byte)'b'], packets[3]);
        var end = OkPacket.Parse(packets[4]);
        connection.SetRawStatus(end.Status);
        Assert.True((connection.Status & ServerStatus.AutoCommit) != 0);

        // The connection is in step for the next command, raw or not.
        Assert.Equal("2", await connection.QueryScalarAsync("SELECT 1 + 1"));
    }

    [Fact]
    public async Task An_error_and_the_transaction_state_come_back_as_the_server_sent_them()
    {
        await using var connection = await TestServer.OpenDbaAsync();
        await connection.SendRawCommandAsync(Query("BEGIN"), default);
        var ok = OkPacket.Parse((await connection.ReadRawPacketAsync(default)).Span);
        connection.SetRawStatus(ok.Status);
        Assert.True((connection.Status & ServerStatus.InTransaction) != 0);

        await connection.SendRawCommandAsync(Query("SELECT * FROM no_such_table_raw_api"), default);
        var error = await connection.ReadRawPacketAsync(default);
        Assert.True(PacketKind.IsErr(error.Span));
        Assert.Equal(1046, ErrPacket.Parse(error.Span).ErrorNumber); // no database selected
        await connection.ExecuteAsync("ROLLBACK");
        Assert.False(connection.IsBroken());
    }

    [Fact]
    public async Task Two_pipelined_commands_are_read_by_setting_the_sequence_back()
    {
        await using var connection = await TestServer.OpenDbaAsync();
        await connection.SendRawCommandAsync(Query("DO 1"), default);
        await connection.SendRawCommandAsync(Query("SELECT 7"), default);
        var next = connection.GetRawSequence();
        connection.SetRawSequence(1);
        Assert.True(PacketKind.IsOk((await connection.ReadRawPacketAsync(default)).Span));
        connection.SetRawSequence(next);
        Assert.Equal(1, (await connection.ReadRawPacketAsync(default)).Span[0]); // column count of SELECT 7
    }
}
