using System.Diagnostics.Metrics;

namespace Durable.Gateway;

/// <summary>
/// The gateway's state as probes and logs see it: ready once the topology is loaded, draining after SIGTERM (the
/// drain token fires at once, the hard stop after Gateway:DrainSeconds), and its counts as OpenTelemetry-style
/// meters (durable.gateway.*) plus plain properties.
/// </summary>
internal sealed class GatewayStatus : IDisposable
{
    public const string MeterName = "Durable.Gateway";
    private readonly CancellationTokenSource _drain = new();
    private readonly CancellationTokenSource _hardStop = new();
    private readonly Meter _meter = new(MeterName);
    private readonly Counter<long> _statements;
    private readonly Counter<long> _held;
    private readonly Counter<long> _refused;
    private int _connections;
    private long _heldTotal;
    private long _statementsTotal;

    public GatewayStatus()
    {
        _statements = _meter.CreateCounter<long>("durable.gateway.statements", description: "Statements run for clients");
        _held = _meter.CreateCounter<long>("durable.gateway.held_statements", description: "Statements held at a cutover");
        _refused = _meter.CreateCounter<long>("durable.gateway.refused_connections", description: "Connections refused at the connection limit");
        _meter.CreateObservableGauge("durable.gateway.connections", () => Volatile.Read(ref _connections), description: "Open client connections");
    }

    public bool TopologyLoaded { get; set; }

    public bool Draining => _drain.IsCancellationRequested;

    public bool Ready => TopologyLoaded && !Draining;

    public CancellationToken DrainToken => _drain.Token;

    public CancellationToken HardStopToken => _hardStop.Token;

    public int Connections => Volatile.Read(ref _connections);

    public long HeldTotal => Interlocked.Read(ref _heldTotal);

    public long StatementsTotal => Interlocked.Read(ref _statementsTotal);

    public bool TryEnter(int max)
    {
        if (Interlocked.Increment(ref _connections) > max)
        {
            Interlocked.Decrement(ref _connections);
            _refused.Add(1);
            return false;
        }

        return true;
    }

    public void Exit() => Interlocked.Decrement(ref _connections);

    public void Statement()
    {
        Interlocked.Increment(ref _statementsTotal);
        _statements.Add(1);
    }

    public void Held()
    {
        Interlocked.Increment(ref _heldTotal);
        _held.Add(1);
    }

    public void BeginDrain(TimeSpan grace)
    {
        _drain.Cancel();
        _hardStop.CancelAfter(grace);
    }

    public void Dispose()
    {
        _meter.Dispose();
        _drain.Dispose();
        _hardStop.Dispose();
    }
}
