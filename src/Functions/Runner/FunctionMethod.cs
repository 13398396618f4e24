using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Extensions.Abstractions;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;

namespace Durable.Functions.Runner;

/// <summary>
/// One <c>[Function]</c> method and how to call it: a binder per parameter, decided once when the runner starts, and
/// the declaring class created per invocation from the invocation's services (as the isolated worker does), so a
/// function class takes its dependencies through its constructor.
/// </summary>
internal sealed class FunctionMethod
{
    private readonly Func<InvocationArguments, object?>?[] _binders;
    private readonly ObjectFactory? _create;
    private Func<object?, Task<object?>> _unwrap = v => Task.FromResult(v);

    public FunctionMethod(string name, MethodInfo method)
    {
        Name = name;
        Method = method;
        _binders = new Func<InvocationArguments, object?>?[method.GetParameters().Length];
        _create = method.IsStatic ? null : ActivatorUtilities.CreateFactory(method.DeclaringType!, Type.EmptyTypes);
        BindCommonParameters();
    }

    public string Name { get; }

    public MethodInfo Method { get; }

    /// <summary>What the function produces once awaited (<c>Task&lt;T&gt;</c> gives T; <c>Task</c> and void give object).</summary>
    public Type ResultType { get; private set; } = typeof(object);

    /// <summary>Functions' name rule (<see cref="RunnerFunction.IsValidName"/>), checked with the method named.</summary>
    public static void CheckName(string name, MethodInfo method)
    {
        if (!RunnerFunction.IsValidName(name))
        {
            throw new FunctionBindingException($"Function name '{name}' ({FunctionCatalog.Where(method)}) is not valid in Azure Functions; valid: {RunnerFunction.NameRule} (e.g. MoveTables_Create).");
        }
    }

    public void BindTrigger<TSource>(Func<InvocationArguments, object?> source, string description, Func<TSource, Type, object?>? convert = null)
    {
        var index = Array.FindIndex(Method.GetParameters(), p => p.GetCustomAttributes().OfType<TriggerBindingAttribute>().Any());
        var parameter = Method.GetParameters()[index];
        if (convert is null)
        {
            if (typeof(TSource) != typeof(object) && !parameter.ParameterType.IsAssignableFrom(typeof(TSource)))
            {
                throw Unsupported(parameter, description);
            }

            _binders[index] = source;
            return;
        }

        // Checked at start: a conversion the trigger cannot make fails here, not on the first message. A JSON type the
        // sample does not fit (an int, say) is still bindable: only a real message can say whether it deserializes.
        try
        {
            _ = convert(Sample<TSource>(), parameter.ParameterType);
        }
        catch (ArgumentException)
        {
            throw Unsupported(parameter, description);
        }
        catch (System.Text.Json.JsonException)
        {
        }

        _binders[index] = a => convert((TSource)source(a)!, parameter.ParameterType);
    }

    /// <summary>HTTP: a parameter named like a route value (<c>{keyspace}</c>) gets it, converted to the parameter's type.</summary>
    public void BindRouteValues(string route)
    {
        RoutePattern pattern;
        try
        {
            pattern = RoutePatternFactory.Parse(route);
        }
        catch (RoutePatternException e)
        {
            throw new FunctionBindingException($"Function '{Name}' ({FunctionCatalog.Where(Method)}): route '{route}' is not a valid route template: {e.Message}");
        }

        foreach (var (parameter, i) in Method.GetParameters().Select((p, i) => (p, i)))
        {
            if (_binders[i] is not null || pattern.GetParameter(parameter.Name!) is null)
            {
                continue;
            }

            var type = parameter.ParameterType;
            var converter = TypeDescriptor.GetConverter(Nullable.GetUnderlyingType(type) ?? type);
            if (type != typeof(string) && !converter.CanConvertFrom(typeof(string)))
            {
                throw Unsupported(parameter, $"route value {{{parameter.Name}}} binds string or a type convertible from it");
            }

            var name = parameter.Name!;
            _binders[i] = a => a.Http!.Request.RouteValues.TryGetValue(name, out var v) && v is string s
                ? type == typeof(string) ? s : converter.ConvertFromInvariantString(s)
                : null;
        }
    }

    /// <summary>An orchestrator's one unbound parameter is its input (as in Durable Functions' isolated worker).</summary>
    public Type? BindOrchestrationInput()
    {
        var free = Method.GetParameters().Select((p, i) => (p, i)).Where(x => _binders[x.i] is null).ToList();
        if (free.Count > 1)
        {
            throw Unsupported(free[1].p, "an orchestrator takes at most one input parameter besides its context");
        }

        if (free.Count == 0)
        {
            return null;
        }

        _binders[free[0].i] = a => a.OrchestrationInput;
        return free[0].p.ParameterType;
    }

    /// <summary>
    /// Fixes how the result is awaited; <paramref name="rule"/> non-null demands a <typeparamref name="T"/> result. The
    /// awaits keep the caller's context (ConfigureAwait(true)): an orchestrator must complete on the orchestration's
    /// own scheduler within its episode, or the engine sees it still running and it never finishes.
    /// </summary>
    public void RequireResult<T>(string? rule)
    {
        var unbound = Method.GetParameters().Select((p, i) => (p, i)).FirstOrDefault(x => _binders[x.i] is null).p;
        if (unbound is not null)
        {
            var binding = unbound.GetCustomAttributes().OfType<BindingAttribute>().FirstOrDefault();
            throw binding is null
                ? Unsupported(unbound, "it has no binding attribute and is not a route value")
                : Unsupported(unbound, $"binding [{FunctionCatalog.Short(binding)}] is not supported by the local runner");
        }

        var returns = Method.ReturnType;
        if (returns == typeof(Task) || returns == typeof(ValueTask))
        {
            _unwrap = async v =>
            {
                await (v is ValueTask vt ? vt.AsTask() : (Task)v!).ConfigureAwait(true);
                return null;
            };
        }
        else if (returns.IsGenericType && (returns.GetGenericTypeDefinition() == typeof(Task<>) || returns.GetGenericTypeDefinition() == typeof(ValueTask<>)))
        {
            ResultType = returns.GetGenericArguments()[0];
            var asTask = returns.GetGenericTypeDefinition() == typeof(ValueTask<>) ? returns.GetMethod(nameof(ValueTask<int>.AsTask))! : null;
            var result = typeof(Task<>).MakeGenericType(ResultType).GetProperty(nameof(Task<int>.Result))!;
            _unwrap = async v =>
            {
                var task = (Task)(asTask is null ? v! : asTask.Invoke(v, null)!);
                await task.ConfigureAwait(true);
                return result.GetValue(task);
            };
        }
        else if (returns != typeof(void))
        {
            ResultType = returns;
        }

        if (rule is not null && !typeof(T).IsAssignableFrom(ResultType))
        {
            throw new FunctionBindingException($"Function '{Name}' ({FunctionCatalog.Where(Method)}) returns {Method.ReturnType.Name}; {rule}.");
        }
    }

    public Task<object?> InvokeAsync(InvocationArguments arguments)
    {
        var values = new object?[_binders.Length];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = _binders[i]!(arguments);
        }

        var target = _create?.Invoke(arguments.Services, null);
        // DoNotWrapExceptions: callers (and the durable engine's failure details) see the function's own exception.
        var returned = Method.Invoke(target, BindingFlags.DoNotWrapExceptions, null, values, CultureInfo.InvariantCulture);
        return _unwrap(returned);
    }

    private void BindCommonParameters()
    {
        foreach (var (parameter, i) in Method.GetParameters().Select((p, i) => (p, i)))
        {
            var bindings = parameter.GetCustomAttributes().OfType<BindingAttribute>().ToList();
            if (bindings.Any(b => b is TriggerBindingAttribute))
            {
                continue;
            }

            if (bindings.FirstOrDefault() is { } binding)
            {
                _binders[i] = binding switch
                {
                    DurableClientAttribute when parameter.ParameterType.IsAssignableFrom(typeof(DurableTaskClient)) => a => a.DurableClient(),
                    DurableClientAttribute => throw Unsupported(parameter, "[DurableClient] binds DurableTaskClient"),
                    _ => throw Unsupported(parameter, $"binding [{FunctionCatalog.Short(binding)}] is not supported by the local runner"),
                };
            }
            else if (parameter.ParameterType == typeof(FunctionContext))
            {
                _binders[i] = a => a.Context;
            }
            else if (parameter.ParameterType == typeof(CancellationToken))
            {
                _binders[i] = a => a.Context.CancellationToken;
            }
        }
    }

    private FunctionBindingException Unsupported(ParameterInfo parameter, string why) =>
        new($"Function '{Name}' ({FunctionCatalog.Where(Method)}): parameter '{parameter.Name}' ({parameter.ParameterType.Name}) cannot be bound: {why}; {FunctionCatalog.SupportedBindings}.");

    private static TSource Sample<TSource>() =>
        typeof(TSource) == typeof(QueueTriggerMessage) ? (TSource)(object)new QueueTriggerMessage("sample", "{}", 1, DateTimeOffset.UnixEpoch, "sample")
        : typeof(TSource) == typeof(TimerOccurrence) ? (TSource)(object)new TimerOccurrence(DateTime.UnixEpoch, null, false)
        : throw new InvalidOperationException($"No sample for {typeof(TSource).Name}.");
}
