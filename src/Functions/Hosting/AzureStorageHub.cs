using Microsoft.Extensions.DependencyInjection;

namespace Durable.Functions.Hosting;

/// <summary>
/// The Azure Storage task hub (issue 5 part A, src/DurableTask/AzureStorage). Registered here so the provider switch
/// in <see cref="DurableRuntime"/> stays one line per provider.
/// </summary>
internal static class AzureStorageHub
{
    public static void Register(IServiceCollection services, FunctionsHostSettings settings)
    {
        // The durable runtime does not ship an Azure Storage IOrchestrationService yet; refuse to start rather than
        // run orchestrations somewhere that does not survive a restart.
        throw new HostJsonException(
            $"extensions.durableTask.storageProvider.type is AzureStorage (task hub {settings.HubName}), but the Azure Storage task hub " +
            "is not available in src/DurableTask yet. Use \"type\": \"InMemory\" for a single local host until it lands.");
    }
}
