using Durable.Functions.MoveTables;
using Durable.Functions.Topology;
using Durable.Functions.VDiff;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Durable.Functions.App;

/// <summary>
/// The whole app in one place: the functions and the services they take through their constructors. Both hosts call
/// it: the local runner (src/Functions/Program.cs) and the Azure Functions worker (src/Functions.Azure/Program.cs).
/// </summary>
public static class DurableFunctionsApp
{
    public static IServiceCollection AddDurableFunctionsApp(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddDurableApp(configuration);
        services.AddMoveTables(configuration);
        services.AddVDiff(configuration);
        services.AddTopologyAdmin();
        return services;
    }
}
