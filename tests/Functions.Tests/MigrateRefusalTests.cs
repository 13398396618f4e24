using System.Text.Json.Nodes;
using Durable.Functions.MoveTables;

namespace Durable.Functions.Tests;

/// <summary>
/// Migrate create refuses the MoveTables-only options only when they ask for something: a client that serializes the
/// whole create record (as durablectl once did, and any generated client does) sends them at their defaults.
/// </summary>
public sealed class MigrateRefusalTests
{
    [Theory]
    [InlineData("""{"no_routing_rules": false, "cutover_hooks": [], "enable_reverse_replication": false}""")]
    [InlineData("""{"cutover_hooks": null}""")]
    [InlineData("""{}""")]
    public void Fields_at_their_defaults_are_accepted(string body) => Assert.Null(ExternalSources.MigrateRefusal(JsonNode.Parse(body)!.AsObject()));

    [Theory]
    [InlineData("""{"no_routing_rules": true}""", "no_routing_rules")]
    [InlineData("""{"enable_reverse_replication": true}""", "enable_reverse_replication")]
    [InlineData("""{"cutover_hooks": [{"url": "http://hook.example/"}]}""", "cutover_hooks")]
    public void Fields_that_ask_for_a_feature_Migrate_lacks_are_refused_by_name(string body, string field) =>
        Assert.Contains($"does not take {field}", ExternalSources.MigrateRefusal(JsonNode.Parse(body)!.AsObject()));
}
