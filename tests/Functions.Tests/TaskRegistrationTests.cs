using Durable.Functions.Runner;
using Durable.Functions.MoveTables;
using Durable.Functions.Tests.Support;
using Durable.Functions.VDiff;
using Microsoft.DurableTask;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Durable.Functions.Tests;

/// <summary>The host's orchestrators and activities as registered from the composition root; no server needed.</summary>
public sealed class TaskRegistrationTests
{
    private static async Task<DurableTaskRegistry> HostRegistryAsync(Func<DurableTaskRegistry, IServiceProvider, Task> check)
    {
        // A topology that is never contacted: building the services connects to nothing.
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DURABLE_ETCD_ENDPOINTS"] = "http://127.0.0.1:9", ["DURABLE_ENGINE_PASSWORD"] = "unused",
        }).Build();
        await using var host = await TestHost.StartAsync(services =>
        {
            services.AddMoveTables(config);
            services.AddVDiff(config);
        }, new Dictionary<string, string> { ["DURABLE_HOST_KEY"] = "tk" });
        // The registry the host's engine runs: built from the [Function] classes' attributes.
        var registry = host.Services.GetRequiredService<DurableTaskRegistry>();

        await check(registry, host.Services);
        return registry;
    }

    [Fact]
    public async Task Every_task_name_is_a_valid_Azure_Functions_function_name()
    {
        var registry = await HostRegistryAsync((_, _) => Task.CompletedTask);
        var names = registry.GetOrchestrators().Select(o => o.Key.Name).Concat(registry.GetActivities().Select(a => a.Key.Name)).ToList();
        Assert.Contains("MoveTables", names);
        Assert.Contains("MoveTables_CopyChunk", names);
        Assert.Contains("VDiff_Shard", names);
        // Functions' rule: a letter, then letters, digits, '_' or '-', at most 128 characters (no dots).
        Assert.All(names, n => Assert.Matches("^[A-Za-z][A-Za-z0-9_-]{0,127}$", n));
    }

    [Fact]
    public async Task Every_activity_is_created_with_its_dependencies_from_the_composition_root()
    {
        await HostRegistryAsync(async (registry, services) =>
        {
            Assert.Equal(15, registry.GetActivities().Count());
            var classes = Orchestrations.MoveTablesOrchestration.ActivityClasses.Concat(Orchestrations.VDiffOrchestratorFunctions.ActivityClasses).ToList();
            // Every registered activity is one of the activity classes' [Function] entry points, and each class is made
            // per invocation, as the runner and the isolated worker make it: from a service scope of the composition root.
            var declared = classes.SelectMany(FunctionCatalog.Read).Select(f => f.Name).Order().ToList();
            Assert.Equal(declared, registry.GetActivities().Select(a => a.Key.Name).Order().ToList());
            foreach (var type in classes)
            {
                await using var scope = services.CreateAsyncScope();
                var activity = ActivatorUtilities.CreateInstance(scope.ServiceProvider, type);
                await using var next = services.CreateAsyncScope();
                Assert.NotSame(activity, ActivatorUtilities.CreateInstance(next.ServiceProvider, type));
            }
        });
    }
}
