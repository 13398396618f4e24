using Durable.DurableTask.Worker;

namespace Durable.DurableTask.Tests.InMemory;

public sealed class WarmUpTests
{
    /// <summary>The start-up warm-up replays a real two-episode orchestration; it throws if the runtime cannot complete it.</summary>
    [Fact]
    public void The_start_up_warm_up_runs_an_orchestration_to_completion_in_memory()
    {
        DurableTaskWorker.WarmUp();
        DurableTaskWorker.WarmUp(); // twice: it keeps no state between calls
    }
}
