namespace Durable.Routing.Following;

/// <summary>Who the gateway is in the hold protocol, and its limits.</summary>
public sealed record TrafficHoldsOptions
{
    /// <summary>The gateway's id in etcd (<c>{global}/gateways/NAME</c>): unique per gateway process.</summary>
    public required string Name { get; init; }

    public string Cell { get; init; } = "zone1";

    public TrafficHoldLimits Limits { get; init; } = new();

    /// <summary>
    /// The TTL of the lease the registration and acks live on: a gateway killed -9 drops out of the switches' wait set
    /// this long after its last renewal (renewed every third of it). Short, since a switch only waits its ack bound for
    /// a gateway that does not answer anyway.
    /// </summary>
    public TimeSpan RegistrationTtl { get; init; } = TimeSpan.FromSeconds(5);
}
