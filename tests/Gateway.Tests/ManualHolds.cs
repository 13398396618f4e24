using Durable.Routing;

namespace Durable.Gateway.Tests;

/// <summary>
/// Cutover holds a test switches on and off by hand (the gateway's half of the hold protocol, tested apart from
/// i20-topo's etcd-backed TrafficHolds): while a table is held, WaitIfHeld returns a task that completes on Release.
/// </summary>
internal sealed class ManualHolds : ITrafficHolds
{
    private readonly object _lock = new();
    private HashSet<QualifiedTable> _held = [];
    private TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int Waits { get; private set; }

    public void Hold(params QualifiedTable[] tables)
    {
        lock (_lock)
        {
            _held = [.. tables];
            _released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    public void Release()
    {
        lock (_lock)
        {
            _held = [];
            _released.TrySetResult();
        }
    }

    public Task? WaitIfHeld(IReadOnlyList<QualifiedTable> tables, CancellationToken ct)
    {
        lock (_lock)
        {
            if (!tables.Any(_held.Contains))
            {
                return null;
            }

            Waits++;
            return _released.Task.WaitAsync(ct);
        }
    }

    public bool IsHeld(IReadOnlyList<QualifiedTable> tables)
    {
        lock (_lock)
        {
            return tables.Any(_held.Contains);
        }
    }
}
