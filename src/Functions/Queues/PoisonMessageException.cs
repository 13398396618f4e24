namespace Durable.Functions.Queues;

/// <summary>
/// Thrown by a queue-triggered function for a message that can never succeed (malformed, forged, addressed to nothing):
/// the local runner moves it to <c>&lt;queue&gt;-poison</c> at once with <see cref="Exception.Message"/> as the logged
/// reason instead of retrying it maxDequeueCount times. The Azure Functions host knows no such exception: there the
/// message is retried like any failure and parked after maxDequeueCount attempts, each refused the same way, so the
/// outcome (poison queue, nothing changed, the reason logged) is the same, only later.
/// </summary>
public sealed class PoisonMessageException(string reason) : Exception(reason);
