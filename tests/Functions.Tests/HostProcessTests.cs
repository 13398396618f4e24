using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Durable.DurableTask.AzureStorage;
using Durable.Testing;

namespace Durable.Functions.Tests;

/// <summary>The host as operators run it: a separate process (the built Durable.Functions.dll) stopped with SIGTERM.</summary>
[Trait("Category", "Integration")]
public sealed partial class HostProcessTests
{
    [Fact]
    public async Task Sigterm_stops_the_host_gracefully_with_exit_code_zero()
    {
        var suffix = Guid.NewGuid().ToString("N")[..10];
        var hub = "Fp" + suffix;
        var root = Path.Combine(Path.GetTempPath(), "durable-host-process-" + suffix);
        Directory.CreateDirectory(root);
        await File.WriteAllTextAsync(Path.Combine(root, "host.json"), $$"""
            { "version": "2.0",
              "logging": { "logLevel": { "default": "Information" } },
              "extensions": { "durableTask": { "hubName": "{{hub}}", "storageProvider": { "partitionCount": 1 } } } }
            """);
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = root,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Durable.Functions.dll"));
        psi.ArgumentList.Add("--urls=http://127.0.0.1:0");
        psi.Environment["AzureWebJobsScriptRoot"] = root;
        psi.Environment["AzureWebJobsStorage"] = LocalCluster.Current.AzureStorageConnectionString;
        psi.Environment["DURABLE_APPROVALS_QUEUE"] = "fp-approvals-" + suffix;
        psi.Environment["AzureWebJobs.PurgeHistory.Disabled"] = "true";
        psi.Environment["DURABLE_FAULT_POINTS"] = "";

        var output = new StringBuilder();
        var started = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var process = new Process { StartInfo = psi };
        void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (output)
            {
                output.AppendLine(line);
            }

            if (ListeningOn().Match(line) is { Success: true } m)
            {
                started.TrySetResult(m.Groups[1].Value);
            }
        }

        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var url = await started.Task.WaitAsync(TimeSpan.FromSeconds(60));
            using var http = new HttpClient();
            Assert.Contains("ok", await http.GetStringAsync(url + "/api/health"));

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(cts.Token);
            string log;
            lock (output)
            {
                log = output.ToString();
            }

            Assert.True(process.ExitCode == 0, log);
            Assert.Contains("Application is shutting down", log);
            Assert.Contains("Durable worker stopped.", log);
            Assert.Contains("Triggers stopped.", log);
            Assert.Contains("Released partition 0: host stopping", log);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }

            await using var hubService = new AzureStorageOrchestrationService(new AzureStorageOrchestrationServiceSettings
            {
                StorageConnectionString = LocalCluster.Current.AzureStorageConnectionString,
                TaskHubName = hub,
                PartitionCount = 1,
            });
            await hubService.DeleteAsync();
            var queues = Durable.Functions.Storage.AzureTriggerStorage.FromConnectionString(LocalCluster.Current.AzureStorageConnectionString, "AzureWebJobsStorage", hub.ToLowerInvariant() + "-timers");
            await queues.DeleteQueueAsync("fp-approvals-" + suffix, CancellationToken.None);
            await queues.DeleteQueueAsync("fp-approvals-" + suffix + "-poison", CancellationToken.None);
            Directory.Delete(root, true);
        }
    }

    [GeneratedRegex(@"Now listening on: (http://\S+)")]
    private static partial Regex ListeningOn();
}
