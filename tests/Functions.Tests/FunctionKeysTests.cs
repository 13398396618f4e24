using Durable.Functions.Http;
using Microsoft.Extensions.Configuration;

namespace Durable.Functions.Tests;

public class FunctionKeysTests
{
    private static readonly FunctionKeys Keys = new("master-1", "host-1", new Dictionary<string, string> { ["Start"] = "start-only" });

    [Theory]
    [InlineData("Start", AuthorizationLevel.Function, "host-1", KeyCheckOutcome.Allowed)]
    [InlineData("Start", AuthorizationLevel.Function, "master-1", KeyCheckOutcome.Allowed)]
    [InlineData("Start", AuthorizationLevel.Function, "start-only", KeyCheckOutcome.Allowed)]
    [InlineData("Other", AuthorizationLevel.Function, "start-only", KeyCheckOutcome.Invalid)]
    [InlineData("Start", AuthorizationLevel.Function, "host-2", KeyCheckOutcome.Invalid)]
    [InlineData("Start", AuthorizationLevel.Function, null, KeyCheckOutcome.Missing)]
    [InlineData("Start", AuthorizationLevel.Function, "", KeyCheckOutcome.Missing)]
    [InlineData("Admin", AuthorizationLevel.Admin, "host-1", KeyCheckOutcome.Invalid)]
    [InlineData("Admin", AuthorizationLevel.Admin, "master-1", KeyCheckOutcome.Allowed)]
    [InlineData("Health", AuthorizationLevel.Anonymous, null, KeyCheckOutcome.Allowed)]
    public void Checks(string function, AuthorizationLevel level, string? key, KeyCheckOutcome expected)
    {
        Assert.Equal(expected, Keys.Check(function, level, key).Outcome);
    }

    [Fact]
    public void No_keys_configured_is_reported_with_the_settings_to_set()
    {
        var check = new FunctionKeys(null, null).Check("Start", AuthorizationLevel.Function, "anything");
        Assert.Equal(KeyCheckOutcome.NotConfigured, check.Outcome);
        Assert.Contains("DURABLE_HOST_KEY", check.Message);
    }

    [Fact]
    public void Messages_never_contain_the_presented_or_configured_key()
    {
        var check = Keys.Check("Start", AuthorizationLevel.Function, "wrong-secret-value");
        Assert.DoesNotContain("wrong-secret-value", check.Message);
        Assert.DoesNotContain("host-1", check.Message);
    }

    [Fact]
    public void Keys_come_from_configuration()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DURABLE_HOST_KEY"] = "h",
            ["DURABLE_FUNCTION_KEY_durabletask"] = "d",
        }).Build();
        var keys = FunctionKeys.FromConfiguration(config);
        Assert.True(keys.Check("durabletask", AuthorizationLevel.Function, "d").IsAllowed);
        Assert.True(keys.Check("x", AuthorizationLevel.Function, "h").IsAllowed);
        Assert.False(keys.Check("x", AuthorizationLevel.Function, "d").IsAllowed);
        Assert.Equal(KeyCheckOutcome.NotConfigured, keys.Check("x", AuthorizationLevel.Admin, "h").Outcome);
    }
}
