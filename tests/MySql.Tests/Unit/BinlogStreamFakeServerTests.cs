using System.Net.Sockets;
using System.Text;
using Durable.Core.Positions;
using Durable.MySql.Binlog;

namespace Durable.MySql.Tests.Unit;

/// <summary>
/// BinlogStream against a scripted server: the read-ahead task must deliver every event in order (across read
/// buffers, with events larger than a buffer, while holding back when the consumer lags), never overwrite a buffer
/// that decoded values still point into, and turn a corrupt
/// checksum, an error packet or the end of the stream into the same results a direct reader gave.
/// </summary>
public sealed class BinlogStreamFakeServerTests
{
    private static readonly GtidPosition Start = GtidPosition.Parse("0-1-1", GtidFlavor.MariaDb);

    /// <summary>Logs in, answers the start-up statements, and once the dump command arrives sends <paramref name="stream"/>'s packets.</summary>
    private static FakeServer Source(Func<NetworkStream, Func<byte[], Task>, Task> stream) => FakeServer.Start(async s =>
    {
        await FakeServer.WritePacketAsync(s, 0, FakeServer.Handshake(version: "10.11.99-MariaDB-fake"));
        await FakeServer.ReadPacketAsync(s);
        await FakeServer.WritePacketAsync(s, 2, FakeServer.Ok);
        while (true)
        {
            var (_, command) = await FakeServer.ReadPacketAsync(s);
            if (command[0] == 0x03 && Encoding.UTF8.GetString(command, 1, command.Length - 1).StartsWith("SELECT", StringComparison.Ordinal))
            {
                await WriteSingleValueResultAsync(s, "CRC32");
            }
            else if (command[0] == 0x12)
            {
                byte sequence = 1;
                await stream(s, payload => FakeServer.WritePacketAsync(s, sequence++, payload));
                return;
            }
            else
            {
                await FakeServer.WritePacketAsync(s, 1, FakeServer.Ok);
            }
        }
    });

    private static async Task WriteSingleValueResultAsync(Stream s, string value)
    {
        await FakeServer.WritePacketAsync(s, 1, [1]);
        var column = new List<byte>();
        foreach (var part in new[] { "def", string.Empty, string.Empty, string.Empty, "v", string.Empty })
        {
            column.Add((byte)part.Length);
            column.AddRange(Encoding.ASCII.GetBytes(part));
        }

        column.AddRange([0x0C, 45, 0, 255, 0, 0, 0, 0xFD, 0, 0, 0, 0, 0]);
        await FakeServer.WritePacketAsync(s, 2, [.. column]);
        await FakeServer.WritePacketAsync(s, 3, [(byte)value.Length, .. Encoding.ASCII.GetBytes(value)]);
        await FakeServer.WritePacketAsync(s, 4, [0xFE, 0, 0, 2, 0, 0, 0]);
    }

    private static byte[] EventPacket(BinlogEventType type, byte[] body) => [0x00, .. BinlogCraftedTests.Event(type, body, crc: true)];

    private static Task<BinlogStream> StartAsync(FakeServer server) =>
        BinlogStream.StartAsync(server.Options(), new BinlogStreamOptions { ServerId = 77, Start = Start, HeartbeatPeriod = TimeSpan.FromSeconds(1), ResolveExtendedTypes = false });

    [Fact]
    public async Task Every_event_arrives_in_order_across_slabs_with_a_slow_consumer()
    {
        // 60 events of 100-600 KiB (each larger than a read buffer): 18 MiB in all, well over the read-ahead's
        // 4 MiB limit, so the reader must stop and resume.
        var sizes = Enumerable.Range(0, 60).Select(i => 100_000 + (i * 8_500)).ToArray();
        await using var server = Source(async (_, send) =>
        {
            for (var i = 0; i < sizes.Length; i++)
            {
                var body = new byte[sizes[i]];
                body.AsSpan().Fill((byte)i);
                await send(EventPacket(BinlogEventType.Intvar, body));
            }

            await send([0xFE, 0, 0, 0, 0]);
        });
        await using var stream = await StartAsync(server);
        for (var i = 0; i < sizes.Length; i++)
        {
            var evt = await stream.ReadEventAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));
            var other = Assert.IsType<OtherEvent>(evt);
            Assert.Equal((uint)(19 + sizes[i] + 4), other.Header.EventSize);
            if (i % 10 == 0)
            {
                await Task.Delay(50);
            }
        }

        Assert.Null(await stream.ReadEventAsync());
        Assert.Null(await stream.ReadEventAsync());
    }

    [Fact]
    public async Task Values_kept_from_earlier_events_survive_later_reads()
    {
        // Character values point into the buffers the socket read into (hand-over mode): 1,500 events of about
        // 1.1 KB fill many read buffers, and every value of every event, kept to the end, must still be intact.
        const int events = 1500, rowsPerEvent = 10;
        static string Value(int e, int r) => $"event {e} row {r} ".PadRight(100, (char)('a' + ((e + r) % 26)));
        byte[] tableMap = [7, 0, 0, 0, 0, 0, 1, 0, 1, (byte)'d', 0, 1, (byte)'t', 0, 2, 3, 15, 2, 200, 0, 0b10];
        await using var server = Source(async (_, send) =>
        {
            await send(EventPacket(BinlogEventType.TableMap, tableMap));
            for (var e = 0; e < events; e++)
            {
                var rows = new List<byte> { 7, 0, 0, 0, 0, 0, 1, 0, 2, 0, 2, 0b11 };
                for (var r = 0; r < rowsPerEvent; r++)
                {
                    rows.Add(0); // no NULLs
                    rows.AddRange(BitConverter.GetBytes((e * rowsPerEvent) + r));
                    var text = Encoding.UTF8.GetBytes(Value(e, r));
                    rows.Add((byte)text.Length);
                    rows.AddRange(text);
                }

                await send(EventPacket(BinlogEventType.WriteRowsV2, [.. rows]));
            }

            await send([0xFE, 0, 0, 0, 0]);
        });
        await using var stream = await StartAsync(server);
        var kept = new List<RowsEvent>();
        while (await stream.ReadEventAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20)) is { } evt)
        {
            if (evt is RowsEvent rows)
            {
                kept.Add(rows);
            }
        }

        Assert.Equal(events, kept.Count);
        for (var e = 0; e < events; e++)
        {
            for (var r = 0; r < rowsPerEvent; r++)
            {
                var after = kept[e].Rows[r].After!;
                Assert.Equal(((e * rowsPerEvent) + r).ToString(System.Globalization.CultureInfo.InvariantCulture), after[0].AsString());
                Assert.Equal(Value(e, r), after[1].AsString());
            }
        }
    }

    [Fact]
    public async Task A_consumer_slower_than_the_silence_limit_is_not_taken_for_a_silent_source()
    {
        // 8 MiB of events fill the read-ahead, which then holds back; the consumer pauses longer than the silence
        // limit (3 heartbeats + 5 s). Holding back is not silence: every event must still arrive.
        var count = 80;
        await using var server = Source(async (_, send) =>
        {
            for (var i = 0; i < count; i++)
            {
                await send(EventPacket(BinlogEventType.Intvar, new byte[100_000]));
            }

            await send([0xFE, 0, 0, 0, 0]);
        });
        await using var stream = await BinlogStream.StartAsync(server.Options(),
            new BinlogStreamOptions { ServerId = 78, Start = Start, HeartbeatPeriod = TimeSpan.FromMilliseconds(10), ResolveExtendedTypes = false });
        Assert.IsType<OtherEvent>(await stream.ReadEventAsync());
        await Task.Delay(TimeSpan.FromSeconds(6));
        for (var i = 1; i < count; i++)
        {
            Assert.IsType<OtherEvent>(await stream.ReadEventAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20)));
        }

        Assert.Null(await stream.ReadEventAsync());
        // 8 MiB while the consumer slept: the read-ahead stopped at its 4 MiB limit, and says so.
        Assert.True(stream.ReadAheadStalls.ReaderHoldBacks > 0, $"hold-backs: {stream.ReadAheadStalls.ReaderHoldBacks}");
    }

    [Fact]
    public async Task A_corrupt_checksum_fails_the_stream_after_the_good_events()
    {
        await using var server = Source(async (_, send) =>
        {
            await send(EventPacket(BinlogEventType.Xid, BitConverter.GetBytes(9UL)));
            var bad = EventPacket(BinlogEventType.Xid, BitConverter.GetBytes(10UL));
            bad[21] ^= 0x01;
            await send(bad);
            await Task.Delay(TimeSpan.FromSeconds(3));
        });
        await using var stream = await StartAsync(server);
        Assert.Equal(9UL, Assert.IsType<XidEvent>(await stream.ReadEventAsync()).Xid);
        var ex = await Assert.ThrowsAsync<MySqlException>(async () => await stream.ReadEventAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(MySqlErrorCode.BinlogChecksumMismatch, ex.ErrorNumber);
        // The stream stays failed.
        Assert.Equal(MySqlErrorCode.BinlogChecksumMismatch, (await Assert.ThrowsAsync<MySqlException>(async () => await stream.ReadEventAsync())).ErrorNumber);
    }

    [Fact]
    public async Task An_error_packet_for_a_purged_position_is_reported_as_such()
    {
        await using var server = Source(async (_, send) =>
        {
            var message = Encoding.ASCII.GetBytes("Could not find GTID state requested by slave in any binlog files. Probably the slave state is too old and required binlog files have been purged.");
            await send([0xFF, 0xD4, 0x04, (byte)'#', .. "HY000"u8.ToArray(), .. message]);
            await Task.Delay(TimeSpan.FromSeconds(3));
        });
        await using var stream = await StartAsync(server);
        var ex = await Assert.ThrowsAsync<BinlogPositionPurgedException>(async () => await stream.ReadEventAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(Start.ToString(), ex.Position);
    }

    [Fact]
    public async Task A_connection_cut_mid_stream_is_a_clear_error_naming_the_server_id()
    {
        await using var server = Source(async (s, send) =>
        {
            await send(EventPacket(BinlogEventType.Xid, BitConverter.GetBytes(1UL)));
            await s.WriteAsync(new byte[] { 200, 0, 0, 2, 0, 1, 2 });
            await s.FlushAsync();
        });
        await using var stream = await StartAsync(server);
        Assert.IsType<XidEvent>(await stream.ReadEventAsync());
        var ex = await Assert.ThrowsAsync<MySqlException>(async () => await stream.ReadEventAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(MySqlErrorCode.ServerLost, ex.ErrorNumber);
        Assert.Contains("server id 77", ex.Message, StringComparison.Ordinal);
    }
}
