using System.Diagnostics;
using System.Text.Json;
using Durable.Functions.App;
using Durable.Functions.Runner;
using Durable.Functions.Tests.Support;
using Durable.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Durable.Functions.Tests;

/// <summary>
/// The app as Azure Functions sees it: src/Functions.Azure built with the Worker SDK writes functions.metadata from the
/// [Function] attributes. Every function must be there with its trigger and settings, and the local runner must serve
/// exactly those functions with the same routes, methods, keys, queues and schedules.
/// </summary>
[Trait("Category", "Integration")]
public sealed class FunctionsMetadataTests
{
    private static readonly Lazy<JsonElement[]> Metadata = new(LoadMetadata);

    /// <summary>name → (trigger type, route or queue or schedule, methods, auth level, has durable client).</summary>
    private static readonly Dictionary<string, (string Trigger, string? Detail, string? Methods, string? Auth, bool Client)> Expected = new()
    {
        ["Health"] = ("httpTrigger", "health", "get", "Anonymous", false),
        ["MoveTablesApi"] = ("httpTrigger", "movetables/{keyspace}/{workflow}/{action}", "get,post,delete", "Function", true),
        ["Migrate"] = ("httpTrigger", "migrate/{keyspace}/{workflow}/{action}", "get,post,delete", "Function", true),
        ["OpenApi"] = ("httpTrigger", "openapi.json", "get", "Anonymous", false),
        ["RegisterExternalSource"] = ("httpTrigger", "externalsources", "post", "Function", false),
        ["WorkflowList"] = ("httpTrigger", "workflows/{keyspace}", "get", "Function", false),
        ["WorkflowShow"] = ("httpTrigger", "workflows/{keyspace}/{workflow}", "get", "Function", true),
        ["RoutingRules"] = ("httpTrigger", "routingrules", "get", "Function", false),
        ["VDiffApi"] = ("httpTrigger", "vdiff/{keyspace}/{workflow}/{action}/{selector?}", "get,post,delete", "Function", true),
        ["GetKeyspaces"] = ("httpTrigger", "topology/keyspaces", "get", "Function", false),
        ["CreateKeyspace"] = ("httpTrigger", "topology/keyspaces", "post", "Function", false),
        ["GetKeyspace"] = ("httpTrigger", "topology/keyspaces/{keyspace}", "get", "Function", false),
        ["DeleteKeyspace"] = ("httpTrigger", "topology/keyspaces/{keyspace}", "delete", "Function", false),
        ["GetShards"] = ("httpTrigger", "topology/keyspaces/{keyspace}/shards", "get", "Function", false),
        ["CreateShard"] = ("httpTrigger", "topology/keyspaces/{keyspace}/shards/{shard}", "post", "Function", false),
        ["GetTablets"] = ("httpTrigger", "topology/tablets", "get", "Function", false),
        ["AddTablet"] = ("httpTrigger", "topology/tablets", "post", "Function", false),
        ["DeleteTablets"] = ("httpTrigger", "topology/tablets", "delete", "Function", false),
        ["GetVSchema"] = ("httpTrigger", "topology/keyspaces/{keyspace}/vschema", "get", "Function", false),
        ["ApplyVSchema"] = ("httpTrigger", "topology/keyspaces/{keyspace}/vschema", "post", "Function", false),
        ["GetRoutingRules"] = ("httpTrigger", "topology/routingrules", "get", "Function", false),
        ["ApplyRoutingRules"] = ("httpTrigger", "topology/routingrules", "post", "Function", false),
        ["GetMirrorRules"] = ("httpTrigger", "topology/mirrorrules", "get", "Function", false),
        ["ApplyMirrorRules"] = ("httpTrigger", "topology/mirrorrules", "post", "Function", false),
        ["MountList"] = ("httpTrigger", "topology/mounts", "get", "Function", false),
        ["MountRegister"] = ("httpTrigger", "topology/mounts", "post", "Function", false),
        ["MountShow"] = ("httpTrigger", "topology/mounts/{name}", "get", "Function", false),
        ["MountUnregister"] = ("httpTrigger", "topology/mounts/{name}", "delete", "Function", false),
        ["RegisterLocalCluster"] = ("httpTrigger", "topology/localcluster", "post", "Function", false),
        ["Approvals"] = ("queueTrigger", "%DURABLE_APPROVALS_QUEUE%", null, null, true),
        ["PurgeHistory"] = ("timerTrigger", "%DURABLE_PURGE_SCHEDULE%", null, null, true),
        ["MoveTables"] = ("orchestrationTrigger", null, null, null, false),
        ["VDiff"] = ("orchestrationTrigger", null, null, null, false),
        ["VDiff_Shard"] = ("orchestrationTrigger", null, null, null, false),
        ["VDiff_Schedule"] = ("orchestrationTrigger", null, null, null, false),
        ["MoveTables_Preflight"] = ("activityTrigger", null, null, null, false),
        ["MoveTables_Create"] = ("activityTrigger", null, null, null, false),
        ["MoveTables_CopyChunk"] = ("activityTrigger", null, null, null, false),
        ["MoveTables_Progress"] = ("activityTrigger", null, null, null, false),
        ["MoveTables_Streams"] = ("activityTrigger", null, null, null, false),
        ["MoveTables_Switch"] = ("activityTrigger", null, null, null, false),
        ["MoveTables_Complete"] = ("activityTrigger", null, null, null, false),
        ["MoveTables_Cancel"] = ("activityTrigger", null, null, null, false),
        ["MoveTables_VerifyApproval"] = ("activityTrigger", null, null, null, false),
        ["MoveTables_MirrorTraffic"] = ("activityTrigger", null, null, null, false),
        ["VDiff_Create"] = ("activityTrigger", null, null, null, false),
        ["VDiff_Latest"] = ("activityTrigger", null, null, null, false),
        ["VDiff_RunShard"] = ("activityTrigger", null, null, null, false),
        ["VDiff_Stop"] = ("activityTrigger", null, null, null, false),
        ["VDiff_Outcome"] = ("activityTrigger", null, null, null, false),
    };

    [Fact]
    public void The_Azure_build_lists_every_function_with_its_trigger_and_settings()
    {
        var byName = Metadata.Value.ToDictionary(f => f.GetProperty("name").GetString()!);
        Assert.Equal(Expected.Keys.Order(StringComparer.Ordinal), byName.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, want) in Expected)
        {
            var bindings = byName[name].GetProperty("bindings").EnumerateArray().ToList();
            var trigger = Assert.Single(bindings, b => b.GetProperty("type").GetString()!.EndsWith("Trigger", StringComparison.Ordinal));
            Assert.True(want.Trigger == trigger.GetProperty("type").GetString(), $"{name}: trigger {trigger.GetProperty("type")}");
            var detail = want.Trigger switch
            {
                "httpTrigger" => trigger.GetProperty("route").GetString(),
                "queueTrigger" => trigger.GetProperty("queueName").GetString(),
                "timerTrigger" => trigger.GetProperty("schedule").GetString(),
                _ => null,
            };
            Assert.True(want.Detail == detail, $"{name}: {detail}");
            if (want.Trigger == "httpTrigger")
            {
                Assert.True(want.Methods == string.Join(",", trigger.GetProperty("methods").EnumerateArray().Select(m => m.GetString())), $"{name}: methods");
                Assert.True(want.Auth == trigger.GetProperty("authLevel").GetString(), $"{name}: auth level");
            }

            Assert.True(want.Client == bindings.Any(b => b.GetProperty("type").GetString() == "durableClient"), $"{name}: durable client");
        }
    }

    [Fact]
    public async Task The_local_runner_serves_exactly_the_functions_the_Azure_build_lists()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DURABLE_ETCD_ENDPOINTS"] = "http://127.0.0.1:9", ["DURABLE_ENGINE_PASSWORD"] = "unused",
        }).Build();
        await using var host = await TestHost.StartAsync(services => services.AddDurableFunctionsApp(config), new Dictionary<string, string> { ["DURABLE_HOST_KEY"] = "mk" });
        var served = host.Services.GetRequiredService<TriggerRegistry>();
        var listed = Metadata.Value.ToDictionary(f => f.GetProperty("name").GetString()!);
        Assert.Equal(listed.Keys.Order(StringComparer.Ordinal), served.Names.Order(StringComparer.Ordinal));

        foreach (var http in served.Http)
        {
            var trigger = TriggerOf(listed[http.Name]);
            Assert.Equal(trigger.GetProperty("route").GetString(), http.Route);
            Assert.Equal(trigger.GetProperty("methods").EnumerateArray().Select(m => m.GetString()!.ToUpperInvariant()), http.Methods);
            Assert.Equal(trigger.GetProperty("authLevel").GetString(), http.AuthLevel.ToString());
        }

        foreach (var (queue, _) in served.Queues)
        {
            Assert.Equal(TriggerOf(listed[queue.Name]).GetProperty("queueName").GetString(), queue.QueueName);
        }

        foreach (var (timer, _) in served.Timers)
        {
            Assert.Equal(TriggerOf(listed[timer.Name]).GetProperty("schedule").GetString(), timer.ScheduleExpression);
        }
    }

    private static JsonElement TriggerOf(JsonElement function) =>
        function.GetProperty("bindings").EnumerateArray().Single(b => b.GetProperty("type").GetString()!.EndsWith("Trigger", StringComparison.Ordinal));

    /// <summary>The metadata of the solution's build of src/Functions.Azure; built here if this checkout has not built it.</summary>
    private static JsonElement[] LoadMetadata()
    {
        var project = Path.Combine(LocalCluster.RepositoryRoot(), "src", "Functions.Azure");
        var path = Path.Combine(project, "bin", "Release", "net10.0", "functions.metadata");
        if (!File.Exists(path))
        {
            using var build = Process.Start(new ProcessStartInfo("dotnet", ["build", project, "-c", "Release", "-nologo", "-clp:ErrorsOnly"]) { RedirectStandardOutput = true })!;
            var output = build.StandardOutput.ReadToEnd();
            build.WaitForExit();
            Assert.True(build.ExitCode == 0, "The Azure build failed:\n" + output);
        }

        using var document = JsonDocument.Parse(File.ReadAllText(path));
        return [.. document.RootElement.EnumerateArray().Select(e => e.Clone())];
    }
}
