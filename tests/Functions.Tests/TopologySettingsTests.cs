using Durable.Composition;
using Durable.Functions.Topology;
using Durable.Topology;
using Durable.Workflows;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Durable.Functions.Tests;

/// <summary>The host's topology settings as the composition root binds them, and the GetTablets state column; no server needed.</summary>
public sealed class TopologySettingsTests
{
    private const string EndpointsSetting = MoveTablesEnvironmentOptions.EtcdSetting;
    private const string RootSetting = MoveTablesEnvironmentOptions.RootSetting;

    /// <summary>The host's composition root over the given app settings (nothing connects until a service is used).</summary>
    private sealed class Connection(params (string Key, string Value)[] settings) : IDisposable
    {
        private readonly ServiceProvider _services = new ServiceCollection()
            .AddDurableEngine(new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))).Build())
            .BuildServiceProvider();

        public string Root => DurableEngineServices.TopologyRoot(_services.GetRequiredService<IOptions<EngineOptions>>().Value);

        public TopologyAdmin Admin => _services.GetRequiredService<TopologyAdmin>();

        public void Dispose() => _services.Dispose();
    }

    [Fact]
    public void Root_defaults_to_the_library_default()
    {
        using var connection = new Connection();
        Assert.Equal(new TopologyOptions().Root, connection.Root);
        Assert.Equal("/durable", connection.Root);
    }

    [Fact]
    public void Root_comes_from_the_one_setting_MoveTables_reads_too()
    {
        using var connection = new Connection((RootSetting, "/mt"));
        Assert.Equal("/mt", connection.Root);
    }

    [Fact]
    public void Missing_endpoints_name_the_setting()
    {
        using var connection = new Connection((RootSetting, "/r"));
        var e = Assert.Throws<TopologyNotConfiguredException>(() => connection.Admin);
        Assert.Contains(EndpointsSetting, e.Message);
    }

    [Fact]
    public void Relative_root_and_bad_endpoints_are_refused_with_the_value()
    {
        using var relative = new Connection((EndpointsSetting, "http://127.0.0.1:2379"), (RootSetting, "durable"));
        Assert.Contains("'durable'", Assert.Throws<TopologyNotConfiguredException>(() => relative.Admin).Message);

        using var bad = new Connection((EndpointsSetting, "ftp://etcd:2379"));
        Assert.Contains(EndpointsSetting, Assert.Throws<TopologyNotConfiguredException>(() => bad.Admin).Message);
    }

    [Fact]
    public void Admin_uses_the_configured_root_and_is_shared()
    {
        using var connection = new Connection((EndpointsSetting, "http://127.0.0.1:2379"), (RootSetting, "/custom"));
        Assert.Equal("/custom", connection.Admin.Store.Options.Root);
        Assert.Same(connection.Admin, connection.Admin);
    }

    [Theory]
    [InlineData("PRIMARY", "zone1-0000000100", true, "SERVING")]
    [InlineData("PRIMARY", "zone1-0000000100", false, "NOT_SERVING")]
    [InlineData("PRIMARY", "zone1-0000000999", true, "NOT_SERVING")]
    [InlineData("REPLICA", null, false, "SERVING")]
    public void Tablet_state_comes_from_the_shard_record(string type, string? primaryAlias, bool primaryServing, string expected)
    {
        var tablet = new TabletRecord("zone1-0000000100", "zone1", 100, "ks", "0", type, "h", 1, "vt_ks", "u", "secret:X");
        var shard = new ShardRecord("ks", "0", "", primaryAlias, primaryServing, []);
        Assert.Equal(expected, TabletView.From(tablet, shard).State);
        Assert.Equal("NOT_SERVING", TabletView.From(tablet, null).State);
    }
}
