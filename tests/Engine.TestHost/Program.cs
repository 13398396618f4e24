using System.Globalization;
using Durable.Engine.TestHost;
using Durable.Functions.Engine;
using Durable.Functions.Runner;
using Microsoft.DurableTask;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

// A worker host for the engine tests: the product's TaskHub (the Durable Task Framework on Azure Storage, behind the
// fault-point decorator) with one chain orchestration, run until stdin closes (a graceful stop) or the process is
// killed (by a test, or by itself at DURABLE_FAULT_POINTS). Everything is configured through the environment (HostContract).
static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;
static string Required(string name) => Env(name) ?? throw new InvalidOperationException($"{name} is not set.");
static int? Int(string name) => Env(name) is { } value ? int.Parse(value, CultureInfo.InvariantCulture) : null;

var connection = Required(HostContract.Connection);
var hubName = Required(HostContract.Hub);
var directory = Required(HostContract.Directory);
var workerId = Env(HostContract.WorkerId) ?? $"{Environment.MachineName}-{Environment.ProcessId}";
var durable = Env(HostContract.Settings) switch
{
    null or HostContract.TestSettings => TestSettings(),
    HostContract.ProductSettings => new DurableTaskSettings(),
    var other => throw new InvalidOperationException($"{HostContract.Settings} is '{other}'; valid: {HostContract.TestSettings}, {HostContract.ProductSettings}."),
};
if (Int(HostContract.Partitions) is { } partitions)
{
    durable = durable with { PartitionCount = partitions };
}

var level = Enum.Parse<LogLevel>(Env(HostContract.LogLevel) ?? nameof(LogLevel.Warning));
using var loggerFactory = LoggerFactory.Create(b => b
    .SetMinimumLevel(level)
    // stderr: stdout carries the ready line the tests read.
    .AddSimpleConsole(o =>
    {
        o.SingleLine = true;
        o.TimestampFormat = "HH:mm:ss.fff ";
    })
    .Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace));

var services = new ServiceCollection()
    .AddSingleton(new Ledger(directory))
    .AddSingleton(new StepBehaviour(Int(HostContract.SlowStep), workerId))
    .BuildServiceProvider();

var registry = new DurableTaskRegistry()
    .AddOrchestratorFunc<int, string>(HostContract.Chain, async (context, steps) =>
    {
        var outputs = new List<string>();
        for (var step = 0; step < steps; step++)
        {
            outputs.Add(await context.CallActivityAsync<string>(HostContract.Step, step));
        }

        return string.Join(',', outputs);
    })
    .AddOrchestratorFunc<int, string>(HostContract.AwaitThenStep, async (context, step) =>
    {
        await context.WaitForExternalEvent<string>(HostContract.GoEvent);
        return await context.CallActivityAsync<string>(HostContract.Step, step);
    })
    .AddOrchestratorFunc<int, string>(HostContract.TimerThenStep, async (context, seconds) =>
    {
        await context.CreateTimer(context.CurrentUtcDateTime.AddSeconds(seconds), CancellationToken.None);
        return await context.CallActivityAsync<string>(HostContract.Step, 0);
    })
    .AddActivity<StepActivity>(HostContract.Step);

var failEpisode = Int(HostContract.FailEpisode);
var settings = TaskHubSettings.ToAzureStorage(durable, hubName, connection, workerId, loggerFactory);
await using var hub = new TaskHub(settings, registry, services, loggerFactory,
    failEpisode is { } n ? inner => new FailingEpisodeCommit(inner, n) : null);
await hub.StartAsync();
Console.WriteLine($"{HostContract.Ready} {workerId}");

// A graceful stop when the test closes stdin: running steps see the stopping token, partitions are released.
await Console.In.ReadToEndAsync();
await hub.StopAsync();
Console.WriteLine("stopped");
return 0;

// Short timings so a restarted host resumes in seconds, each within what host.json accepts (visibility >= 10 s,
// lease 15-60 s): a restart with the same worker id renews the dead host's leases at once, and what the dead host
// had dequeued reappears after the 10 s visibility timeouts.
static DurableTaskSettings TestSettings() => new()
{
    PartitionCount = 1,
    MaxQueuePollingInterval = TimeSpan.FromMilliseconds(200),
    ControlQueueVisibilityTimeout = TimeSpan.FromSeconds(10),
    WorkItemQueueVisibilityTimeout = TimeSpan.FromSeconds(10),
    LeaseInterval = TimeSpan.FromSeconds(15),
    LeaseRenewInterval = TimeSpan.FromSeconds(5),
    LeaseAcquireInterval = TimeSpan.FromSeconds(2),
    MaxConcurrentActivityFunctions = 4,
    MaxConcurrentOrchestratorFunctions = 4,
};
