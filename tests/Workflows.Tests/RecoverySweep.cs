namespace Durable.Workflows.Tests;

/// <summary>
/// The recovery sweep every Streamer and Functions host runs (InterruptedCommandRecoveryService), run in the test
/// process on a bed's topology, as the always-on Streamer beside a host that dies: it ends the dead host's commands.
/// </summary>
public sealed class RecoverySweep : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private RecoverySweep(ClusterBed bed) => _loop = RunAsync(bed, _stop.Token);

    /// <summary>Commands this sweep ended.</summary>
    public int Ended { get; private set; }

    public string? LastError { get; private set; }

    public static RecoverySweep Start(ClusterBed bed) => new(bed);

    private async Task RunAsync(ClusterBed bed, CancellationToken ct)
    {
        var operations = bed.Env.Operations;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                Ended += await operations.Recovery.SweepAsync(ct);
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                LastError = e.Message;
            }

            try
            {
                await Task.Delay(operations.Settings.RecoveryInterval, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }
}
