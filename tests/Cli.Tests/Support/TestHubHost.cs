using Durable.Functions.Runner;
using Durable.Testing;
using DurableTask.AzureStorage;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Durable.Cli.Tests;

/// <summary>
/// The task hub of a Functions host that durablectl talks to in these tests: a private hub on the local cluster's
/// Azurite (one partition, the shortest poll host.json takes, so the test waits milliseconds for its orchestrations),
/// deleted when the test's host ends.
/// </summary>
internal static class TestHubHost
{
    /// <summary>host.json for a host on a new private hub.</summary>
    public static string HostJson() => $$"""
        { "version": "2.0", "extensions": { "durableTask": { "hubName": "{{TestTaskHub.NewName()}}",
            "storageProvider": { "type": "AzureStorage", "partitionCount": 1, "maxQueuePollingInterval": "00:00:00.100" } } } }
        """;

    /// <summary>The command-line setting that points the host's hub at the cluster's Azurite.</summary>
    public static string StorageArgument => $"--AzureWebJobsStorage={LocalCluster.Current.AzureStorageConnectionString}";

    /// <summary>Stops the host, deletes its task hub (while its storage clients are still usable) and disposes it.</summary>
    public static async Task StopAndDeleteHubAsync(WebApplication app)
    {
        try
        {
            await app.StopAsync();
        }
        finally
        {
            try
            {
                var hub = app.Services.GetRequiredService<FunctionsHostSettings>().HubName;
                await TestTaskHub.BreakAppLeaseAsync(hub);
                await app.Services.GetRequiredService<AzureStorageOrchestrationService>().DeleteAsync();
                await TestTaskHub.DeleteAppLeaseContainerAsync(hub);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // The test already has its verdict; a leftover hub is noise, not a failure.
                Console.Error.WriteLine($"deleting a test host's task hub: {e.Message}");
            }

            await app.DisposeAsync();
        }
    }
}
