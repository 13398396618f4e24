namespace Durable.Workflows.Tests;

/// <summary>DURABLE_GATEWAY_ACK_BOUND_MS: how long a switch waits for the gateways' acks; a bad value is named.</summary>
public sealed class GatewayAckBoundSettingTests
{
    [Fact]
    public void The_setting_sets_the_bound_and_refuses_a_bad_value_by_name()
    {
        var defaults = new MoveTablesSettings().GatewayAckBound;
        Assert.Equal(defaults, MoveTablesEnvironmentOptions.GatewayAckBoundFromSettings(null));
        Assert.Equal(defaults, MoveTablesEnvironmentOptions.GatewayAckBoundFromSettings(""));
        Assert.Equal(TimeSpan.FromMilliseconds(500), MoveTablesEnvironmentOptions.GatewayAckBoundFromSettings("500"));
        Assert.Equal(TimeSpan.Zero, MoveTablesEnvironmentOptions.GatewayAckBoundFromSettings("0"));
        foreach (var bad in new[] { "-1", "2s", "60001", "1.5" })
        {
            var e = Assert.Throws<WorkflowValidationException>(() => MoveTablesEnvironmentOptions.GatewayAckBoundFromSettings(bad));
            Assert.Contains($"DURABLE_GATEWAY_ACK_BOUND_MS is '{bad}'", e.Message, StringComparison.Ordinal);
            Assert.Contains("0 to 60000", e.Message, StringComparison.Ordinal);
        }

        var options = MoveTablesEnvironmentOptions.FromSettings(k => k switch
        {
            MoveTablesEnvironmentOptions.EtcdSetting => "http://127.0.0.1:2379",
            MoveTablesEnvironmentOptions.EnginePasswordSetting => "x",
            MoveTablesEnvironmentOptions.GatewayAckBoundSetting => "750",
            _ => null,
        });
        Assert.Equal(TimeSpan.FromMilliseconds(750), options!.Settings.GatewayAckBound);
    }
}
