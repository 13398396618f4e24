using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Durable.Cli;
using Durable.Cli.Infrastructure;
using Durable.Functions.Runner;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;

namespace Durable.Cli.Tests;

/// <summary>
/// One real Functions host (Kestrel on a free port, a private task hub on the cluster's Azurite) for all of
/// <see cref="DurableCtlTests"/>: a host start and stop costs seconds on a real hub. Tests use instance ids of their own.
/// </summary>
public sealed class DurableCtlHost : IAsyncLifetime
{
    public const string Key = "cli-test-key";
    private string _root = null!;

    public WebApplication App { get; private set; } = null!;

    public string Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _root = Path.Combine(Path.GetTempPath(), "durablectl-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_root);
        await File.WriteAllTextAsync(Path.Combine(_root, "host.json"), TestHubHost.HostJson());
        var builder = LocalRunner.CreateBuilder([
            $"--AzureWebJobsScriptRoot={_root}", "--urls=http://127.0.0.1:0", $"--DURABLE_HOST_KEY={Key}",
            TestHubHost.StorageArgument, "--Logging:LogLevel:Default=Warning"]);
        FunctionClassRegistration.AddFunction(builder.Services, new HttpTriggerFunction("Health", "health", ["GET"], Functions.Http.AuthorizationLevel.Anonymous,
            (_, _) => Task.FromResult(Microsoft.AspNetCore.Http.Results.Ok(new { status = "ok" }))));
        builder.Services.AddOrchestrations(r => r.AddOrchestratorFunc<string, string>("WaitForGo", async (ctx, input) =>
            $"{input}:{await ctx.WaitForExternalEvent<string>("Go")}"));
        App = LocalRunner.Build(builder);
        await App.StartAsync();
        Server = App.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
    }

    public async Task DisposeAsync()
    {
        await TestHubHost.StopAndDeleteHubAsync(App);
        Directory.Delete(_root, true);
    }
}

/// <summary>durablectl end to end against a real Functions host.</summary>
public sealed class DurableCtlTests(DurableCtlHost host) : IClassFixture<DurableCtlHost>
{
    private const string Key = DurableCtlHost.Key;
    private readonly WebApplication _app = host.App;
    private readonly string _server = host.Server;

    private async Task<(int Code, string Out, string Err)> Run(string[] args, string? key = Key, string? serverEnv = null)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var env = new Dictionary<string, string?>
        {
            [DurableHostClient.KeyEnvironmentVariable] = key,
            [DurableHostClient.ServerEnvironmentVariable] = serverEnv ?? _server,
        };
        var code = await DurableCtl.RunAsync(args, output, error, n => env.GetValueOrDefault(n));
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Start_raise_and_get_an_instance_in_text_and_json()
    {
        var (code, output, error) = await Run(["StartOrchestration", "WaitForGo", "--instance-id", "cli-1", "--input", "\"job\""]);
        Assert.True(code == ExitCodes.Ok, error);
        Assert.Contains("id", output);
        Assert.Contains("cli-1", output);
        Assert.Contains("statusQueryGetUri", output);

        var client = _app.Services.GetRequiredService<DurableTaskClient>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await client.WaitForInstanceStartAsync("cli-1", false, cts.Token);

        (code, _, error) = await Run(["RaiseEvent", "cli-1", "Go", "--data", "\"now\""]);
        Assert.True(code == ExitCodes.Ok, error);
        await client.WaitForInstanceCompletionAsync("cli-1", false, cts.Token);

        (code, output, _) = await Run(["GetInstance", "cli-1"]);
        Assert.Equal(ExitCodes.Ok, code);
        Assert.Matches(@"runtimeStatus\s*: Completed", output);
        Assert.Matches(@"output\s*: job:now", output);

        (code, output, _) = await Run(["GetInstance", "cli-1", "--format", "json"]);
        Assert.Equal(ExitCodes.Ok, code);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal("Completed", doc.RootElement.GetProperty("runtimeStatus").GetString());
        Assert.Equal("job:now", doc.RootElement.GetProperty("output").GetString());

        // The history comes from the task hub's History table, each event named by its type.
        (code, output, _) = await Run(["GetInstance", "cli-1", "--show-history", "--format", "json"]);
        Assert.Equal(ExitCodes.Ok, code);
        using var withHistory = JsonDocument.Parse(output);
        var events = withHistory.RootElement.GetProperty("historyEvents").EnumerateArray().ToList();
        Assert.Contains(events, e => e.GetProperty("EventType").GetString() == "ExecutionStarted");
        Assert.Contains(events, e => e.GetProperty("EventType").GetString() == "EventRaised" && e.GetProperty("Name").GetString() == "Go");
        Assert.Contains(events, e => e.GetProperty("EventType").GetString() == "ExecutionCompleted");

        (code, output, _) = await Run(["ListInstances", "--status", "Completed", "--prefix", "cli-"]);
        Assert.Equal(ExitCodes.Ok, code);
        Assert.Contains("instanceId", output);
        Assert.Contains("cli-1", output);

        (code, output, _) = await Run(["PurgeInstance", "cli-1", "--format", "json"]);
        Assert.Equal(ExitCodes.Ok, code);
        Assert.Equal(1, JsonDocument.Parse(output).RootElement.GetProperty("instancesDeleted").GetInt32());

        (code, _, error) = await Run(["GetInstance", "cli-1"]);
        Assert.Equal(ExitCodes.NotFound, code);
        Assert.Contains("404", error);
    }

    [Fact]
    public async Task Terminate_and_suspend_resume()
    {
        Assert.Equal(ExitCodes.Ok, (await Run(["StartOrchestration", "WaitForGo", "--instance-id", "cli-2"])).Code);
        var client = _app.Services.GetRequiredService<DurableTaskClient>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await client.WaitForInstanceStartAsync("cli-2", false, cts.Token);
        Assert.Equal(ExitCodes.Ok, (await Run(["SuspendInstance", "cli-2", "--reason", "pause"])).Code);
        Assert.Equal(ExitCodes.Ok, (await Run(["ResumeInstance", "cli-2"])).Code);
        Assert.Equal(ExitCodes.Ok, (await Run(["TerminateInstance", "cli-2", "--reason", "stop"])).Code);
        var done = await client.WaitForInstanceCompletionAsync("cli-2", false, cts.Token);
        Assert.Equal(OrchestrationRuntimeStatus.Terminated, done.RuntimeStatus);
    }

    [Fact]
    public async Task Missing_key_gives_401_and_says_which_variable_to_set()
    {
        var (code, _, error) = await Run(["GetInstance", "anything"], key: null);
        Assert.Equal(ExitCodes.Unauthorized, code);
        Assert.Contains("401", error);
        Assert.Contains(DurableHostClient.KeyEnvironmentVariable, error);
    }

    [Fact]
    public async Task Host_status_works_without_a_key()
    {
        var (code, output, _) = await Run(["GetHostStatus"], key: null);
        Assert.Equal(ExitCodes.Ok, code);
        Assert.Contains("status: ok", output);
    }

    [Fact]
    public async Task Host_down_gives_the_clear_message_and_its_exit_code()
    {
        // A port nobody listens on: bind, read the port, close.
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var (code, _, error) = await Run(["--server", $"http://127.0.0.1:{port}", "GetInstance", "x"]);
        Assert.Equal(ExitCodes.HostUnreachable, code);
        Assert.Contains($"cannot reach the Durable host at http://127.0.0.1:{port}", error);
        Assert.Contains("start it with", error, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Server_comes_from_the_environment_when_the_option_is_absent()
    {
        var (code, output, _) = await Run(["GetHostStatus"], serverEnv: _server);
        Assert.Equal(ExitCodes.Ok, code);
        Assert.Contains(new Uri(_server).Port.ToString(System.Globalization.CultureInfo.InvariantCulture), output);
    }

    [Theory]
    [InlineData(new[] { "--server", "not a url", "GetHostStatus" }, "--server 'not a url' is not a valid URL")]
    [InlineData(new[] { "RaiseEvent", "a", "b", "--data", "{bad" }, "--data is not valid JSON")]
    [InlineData(new[] { "ListInstances", "--status", "Sleeping" }, "--status 'Sleeping' is not a runtime status")]
    public async Task Usage_errors_name_the_bad_value(string[] args, string expected)
    {
        var (code, _, error) = await Run(args);
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains(expected, error);
    }

    [Theory]
    [InlineData(new[] { "NoSuchCommand" }, "durablectl --help")]
    [InlineData(new[] { "GetInstance", "a", "--no-such-flag" }, "durablectl GetInstance --help")]
    public async Task Parser_errors_exit_with_the_usage_code_and_point_at_help(string[] args, string expected)
    {
        var (code, output, error) = await Run(args);
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains(expected, error);
        Assert.Contains("durablectl: ", error);
        Assert.Equal("", output);
    }

    [Fact]
    public void Command_groups_plug_into_the_root()
    {
        var context = new CliContext(TextWriter.Null, TextWriter.Null, _ => null);
        var root = DurableCtl.BuildRoot(context, [.. DurableCtl.Groups, new ExtraGroup()]);
        Assert.Contains(root.Subcommands, c => c.Name == "GetKeyspaces");
        Assert.Contains(root.Subcommands, c => c.Name == "GetInstance");
    }

    private sealed class ExtraGroup : ICommandGroup
    {
        public void AddTo(System.CommandLine.RootCommand root, CliContext context) => root.Subcommands.Add(new System.CommandLine.Command("GetKeyspaces"));
    }
}
