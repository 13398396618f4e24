using Microsoft.Extensions.DependencyInjection;

namespace Durable.Testing;

/// <summary>Service providers for registering orchestrations on an in-memory hub with recorded (fake) operations.</summary>
public static class TestServices
{
    /// <summary>A provider that serves <paramref name="implementation"/> as its own type and as every interface it implements.</summary>
    public static IServiceProvider With(object implementation)
    {
        var services = new ServiceCollection();
        foreach (var type in implementation.GetType().GetInterfaces().Append(implementation.GetType()))
        {
            services.AddSingleton(type, implementation);
        }

        return services.BuildServiceProvider();
    }
}
