using System.Collections;
using System.Collections.Immutable;
using System.Reflection;
using Microsoft.Azure.Functions.Worker;

namespace Durable.Functions.Runner;

/// <summary>
/// The isolated worker's <see cref="FunctionContext"/> as the local runner provides it: the function's name, an
/// invocation id, the services of the invocation, the trigger's binding data (an activity's <c>instanceId</c>) and a
/// token that fires on host shutdown or host.json's functionTimeout. Functions written for Azure read the same members.
/// </summary>
public sealed class RunnerFunctionContext : FunctionContext
{
    public RunnerFunctionContext(
        string functionName,
        string invocationId,
        IServiceProvider services,
        CancellationToken cancellationToken,
        IReadOnlyDictionary<string, object?>? bindingData = null,
        MethodInfo? entryPoint = null)
    {
        InvocationId = invocationId;
        InstanceServices = services;
        CancellationToken = cancellationToken;
        FunctionDefinition = new Definition(functionName, entryPoint);
        BindingContext = new Bindings(bindingData ?? ImmutableDictionary<string, object?>.Empty);
    }

    public override string InvocationId { get; }

    public override string FunctionId => FunctionDefinition.Id;

    public override TraceContext TraceContext { get; } = new Trace();

    public override BindingContext BindingContext { get; }

    public override RetryContext RetryContext => null!;

    public override IServiceProvider InstanceServices { get; set; }

    public override Microsoft.Azure.Functions.Worker.FunctionDefinition FunctionDefinition { get; }

    public override IDictionary<object, object> Items { get; set; } = new Dictionary<object, object>();

    public override IInvocationFeatures Features { get; } = new FeatureSet();

    public override CancellationToken CancellationToken { get; }

    private sealed class Definition(string name, MethodInfo? entryPoint) : Microsoft.Azure.Functions.Worker.FunctionDefinition
    {
        public override ImmutableArray<FunctionParameter> Parameters { get; } =
            entryPoint is null ? [] : [.. entryPoint.GetParameters().Select(p => new FunctionParameter(p.Name ?? "", p.ParameterType))];

        public override string PathToAssembly => entryPoint?.DeclaringType?.Assembly.Location ?? "";

        public override string EntryPoint => entryPoint is null ? name : $"{entryPoint.DeclaringType?.FullName}.{entryPoint.Name}";

        // Azure derives the id from the metadata; a stable name-based id serves logs and lookups the same way.
        public override string Id => name;

        public override string Name => name;

        public override IImmutableDictionary<string, BindingMetadata> InputBindings { get; } = ImmutableDictionary<string, BindingMetadata>.Empty;

        public override IImmutableDictionary<string, BindingMetadata> OutputBindings { get; } = ImmutableDictionary<string, BindingMetadata>.Empty;
    }

    private sealed class Bindings(IReadOnlyDictionary<string, object?> data) : BindingContext
    {
        public override IReadOnlyDictionary<string, object?> BindingData => data;
    }

    private sealed class Trace : TraceContext
    {
        public override string TraceParent => System.Diagnostics.Activity.Current?.Id ?? "";

        public override string TraceState => System.Diagnostics.Activity.Current?.TraceStateString ?? "";
    }

    /// <summary>Invocation features by type, as the worker keeps them; the runner's bindings need none of its own.</summary>
    private sealed class FeatureSet : IInvocationFeatures
    {
        private readonly Dictionary<Type, object> _features = [];

        public T? Get<T>() => _features.TryGetValue(typeof(T), out var f) ? (T)f : default;

        public void Set<T>(T instance)
        {
            if (instance is null)
            {
                _features.Remove(typeof(T));
            }
            else
            {
                _features[typeof(T)] = instance;
            }
        }

        public IEnumerator<KeyValuePair<Type, object>> GetEnumerator() => _features.GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
