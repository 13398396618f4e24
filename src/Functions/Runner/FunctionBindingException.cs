namespace Durable.Functions.Runner;

/// <summary>A function declares something the local runner cannot bind (or Functions would refuse); the runner does not start.</summary>
public sealed class FunctionBindingException(string message) : InvalidOperationException(message);
