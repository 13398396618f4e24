using Microsoft.Extensions.Configuration;

namespace Durable.Gateway.Tests;

/// <summary>Settings are checked before anything starts: each bad one is named with what would be valid.</summary>
public sealed class GatewaySettingsTests
{
    private static GatewaySettings From(params (string Key, string Value)[] values) =>
        GatewaySettings.From(new ConfigurationBuilder().AddInMemoryCollection(
            new Dictionary<string, string?>
            {
                ["Gateway:EtcdEndpoints"] = "http://127.0.0.1:2379",
                ["Gateway:BackendUser"] = "durable_app",
                ["Gateway:Accounts:0:User"] = "app",
                ["Gateway:Accounts:0:Password"] = "secret",
            }.Concat(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value)))
            .GroupBy(p => p.Key).Select(g => g.Last())).Build());

    [Fact]
    public void The_defaults_are_vtgates_ports_on_every_interface()
    {
        var settings = From();
        Assert.Equal(15306, settings.MySqlPort);
        Assert.Equal(15001, settings.HttpPort);
        Assert.Null(settings.BindIp);
    }

    [Fact]
    public void Inline_io_is_on_unless_turned_off()
    {
        Assert.True(From().InlineIo);
        Assert.False(From(("Gateway:InlineIo", "false")).InlineIo);
    }

    [Fact]
    public void A_bind_address_binds_both_listeners_there_and_a_bad_one_is_named()
    {
        Assert.Equal(System.Net.IPAddress.Loopback, From(("Gateway:BindAddress", "127.0.0.1")).BindIp);
        var bad = Assert.Throws<GatewaySettingsException>(() => From(("Gateway:BindAddress", "localhost:15306")));
        Assert.Contains("Gateway:BindAddress 'localhost:15306' is not an IP address", bad.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_bad_setting_is_named_at_once()
    {
        var bad = Assert.Throws<GatewaySettingsException>(() => From(("Gateway:MySqlPort", "70000"), ("Gateway:BackendUser", "")));
        Assert.Contains("Gateway:MySqlPort is 70000", bad.Message, StringComparison.Ordinal);
        Assert.Contains("Gateway:BackendUser is required", bad.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_mirror_queue_and_workers_default_to_1000_and_4_and_bad_values_are_named()
    {
        Assert.Equal((1000, 4), (From().MirrorQueueSize, From().MirrorWorkers));
        Assert.Equal((50, 8), (From(("Gateway:MirrorQueueSize", "50"), ("Gateway:MirrorWorkers", "8")) is var s ? (s.MirrorQueueSize, s.MirrorWorkers) : default));
        var bad = Assert.Throws<GatewaySettingsException>(() => From(("Gateway:MirrorQueueSize", "0"), ("Gateway:MirrorWorkers", "1000")));
        Assert.Contains("Gateway:MirrorQueueSize is 0; it must be a positive number", bad.Message, StringComparison.Ordinal);
        Assert.Contains("Gateway:MirrorWorkers is 1000; it must be 1 to 256", bad.Message, StringComparison.Ordinal);
    }
}
