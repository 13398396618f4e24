using Durable.Functions.Engine;
using Durable.Testing;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;

namespace Durable.Engine.Tests;

/// <summary>
/// A private task hub on Azurite with its worker in this process (<see cref="TestTaskHub"/>: one partition, fast
/// polling), for tests of the client API and of what orchestrations and activities see. Deleted when disposed.
/// </summary>
internal sealed class InProcessHub : IAsyncDisposable
{
    private InProcessHub(TaskHub hub, IServiceProvider services)
    {
        Hub = hub;
        Services = services;
    }

    public TaskHub Hub { get; }

    /// <summary>The services activities are resolved from (a scope of these per work item).</summary>
    public IServiceProvider Services { get; }

    public DurableHubClient Client => Hub.Client;

    public static async Task<InProcessHub> StartAsync(Action<DurableTaskRegistry> register, Action<IServiceCollection>? services = null)
    {
        var registry = new DurableTaskRegistry();
        register(registry);
        var collection = new ServiceCollection();
        services?.Invoke(collection);
        var provider = collection.BuildServiceProvider();
        return new InProcessHub(await TestTaskHub.StartAsync(registry, provider), provider);
    }

    public async Task<OrchestrationMetadata> RunAsync(TaskName name, object? input = null, string? instanceId = null)
    {
        var id = await Client.ScheduleNewOrchestrationInstanceAsync(name, input, new StartOrchestrationOptions(instanceId));
        return await WaitForCompletionAsync(id);
    }

    public async Task<OrchestrationMetadata> WaitForCompletionAsync(string instanceId, int seconds = 30)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        try
        {
            return await Client.WaitForInstanceCompletionAsync(instanceId, getInputsAndOutputs: true, cts.Token);
        }
        catch (OperationCanceledException)
        {
            var m = await Client.GetInstanceAsync(instanceId);
            throw new TimeoutException($"{instanceId} did not finish within {seconds} s; it is {m?.RuntimeStatus.ToString() ?? "missing"}.");
        }
    }

    public async Task WaitForStatusAsync(string instanceId, OrchestrationRuntimeStatus status, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        OrchestrationMetadata? last = null;
        while (DateTime.UtcNow < deadline)
        {
            last = await Client.GetInstanceAsync(instanceId);
            if (last?.RuntimeStatus == status)
            {
                return;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"{instanceId} never reached {status} within {seconds} s; it is {last?.RuntimeStatus.ToString() ?? "missing"}.");
    }

    public async Task<IReadOnlyList<string>> EventTypesAsync(string instanceId) =>
        (await Client.GetHistoryAsync(instanceId) ?? []).Select(e => e!["EventType"]!.GetValue<string>()).ToList();

    public ValueTask DisposeAsync() => new(Hub.DisposeAndDeleteAsync());
}
