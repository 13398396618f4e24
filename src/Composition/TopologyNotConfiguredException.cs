namespace Durable.Composition;

/// <summary>The host's topology settings are missing or invalid (an operator error, not a bad request).</summary>
public sealed class TopologyNotConfiguredException(string message) : Exception(message);
