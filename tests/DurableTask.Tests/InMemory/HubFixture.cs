using Durable.DurableTask.Client;
using Durable.DurableTask.InMemory;
using Durable.DurableTask.Worker;

namespace Durable.DurableTask.Tests.InMemory;

/// <summary>An in-memory hub with one (or more) running workers and a client, torn down after each test.</summary>
public sealed class TestHub : IAsyncDisposable
{
    private readonly List<DurableTaskWorker> _workers = new();

    public TestHub(InMemoryOrchestrationServiceOptions? options = null) => Service = new InMemoryOrchestrationService(options);

    public InMemoryOrchestrationService Service { get; }

    public DurableTaskClient Client => new(Service) { MaxPollingInterval = TimeSpan.FromMilliseconds(50) };

    public async Task<DurableTaskWorker> StartWorkerAsync(Action<DurableTaskRegistry> register, DurableTaskWorkerOptions? options = null)
    {
        var registry = new DurableTaskRegistry();
        register(registry);
        var worker = new DurableTaskWorker(Service, registry, options ?? new DurableTaskWorkerOptions { MaxConcurrentActivities = 8, MaxConcurrentOrchestrations = 4 });
        await worker.StartAsync();
        _workers.Add(worker);
        return worker;
    }

    public async Task<OrchestrationMetadata> RunAsync(string orchestrator, object? input = null, string? instanceId = null)
    {
        var id = await Client.ScheduleNewOrchestrationInstanceAsync(orchestrator, input, new StartOrchestrationOptions(instanceId));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        return await Client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, cts.Token);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var w in _workers)
        {
            await w.StopAsync();
        }
    }
}
