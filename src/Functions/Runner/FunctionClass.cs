using Microsoft.Extensions.DependencyInjection;

namespace Durable.Functions.Runner;

/// <summary>
/// A class whose <c>[Function]</c> methods belong to the app, registered in DI (<see cref="FunctionClassRegistration.AddFunctionsOf{T}"/>).
/// The runner reads the methods' attributes when it starts, as the Functions SDK reads them when it builds.
/// </summary>
public sealed record FunctionClass(Type Type);

public static class FunctionClassRegistration
{
    /// <summary>Adds the <c>[Function]</c> methods of <typeparamref name="T"/> to the app (once, however often called).</summary>
    public static IServiceCollection AddFunctionsOf<T>(this IServiceCollection services) => services.AddFunctionsOf(typeof(T));

    /// <summary>Adds a function defined in code rather than by attributes (tests use it to drive one trigger).</summary>
    public static IServiceCollection AddFunction(this IServiceCollection services, RunnerFunction function) =>
        services.AddSingleton(function);

    public static IServiceCollection AddFunctionsOf(this IServiceCollection services, Type type)
    {
        if (!services.Any(d => d.ServiceType == typeof(FunctionClass) && d.ImplementationInstance is FunctionClass c && c.Type == type))
        {
            services.AddSingleton(new FunctionClass(type));
        }

        return services;
    }
}
