using System.Globalization;
using Durable.Cli;
using Durable.Cli.Infrastructure;

namespace Durable.Cli.Tests;

/// <summary>PurgeInstances end to end against a real host (its own task hub): a finished instance in the window is purged.</summary>
[Trait("Category", "Integration")]
public sealed class PurgeInstancesCliTests(DurableCtlHost host) : IClassFixture<DurableCtlHost>
{
    private async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var env = new Dictionary<string, string?> { [DurableHostClient.KeyEnvironmentVariable] = DurableCtlHost.Key, [DurableHostClient.ServerEnvironmentVariable] = host.Server };
        var code = await DurableCtl.RunAsync(args, output, error, n => env.GetValueOrDefault(n));
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task PurgeInstances_removes_a_completed_instance_of_the_window()
    {
        var id = "purge-" + Guid.NewGuid().ToString("N")[..8];
        var from = DateTimeOffset.UtcNow.AddMinutes(-5).ToString("O", CultureInfo.InvariantCulture);
        var (code, output, error) = await Run("StartOrchestration", "WaitForGo", "--instance-id", id);
        Assert.True(code == ExitCodes.Ok, output + error);
        (code, output, error) = await Run("RaiseEvent", id, "Go", "--data", "\"now\"");
        Assert.True(code == ExitCodes.Ok, output + error);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        do
        {
            await Task.Delay(200);
            (code, output, _) = await Run("GetInstance", id);
        }
        while (!output.Contains("Completed", StringComparison.Ordinal) && DateTime.UtcNow < deadline);
        Assert.Contains("Completed", output);

        (code, output, error) = await Run("PurgeInstances", "--created-from", from, "--status", "Completed");
        Assert.True(code == ExitCodes.Ok, output + error);
        (code, _, error) = await Run("GetInstance", id);
        Assert.Equal(ExitCodes.NotFound, code);
    }
}
