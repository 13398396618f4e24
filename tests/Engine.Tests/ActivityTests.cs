using System.Collections.Concurrent;
using Durable.Activities;
using Durable.Core.Failures;
using Durable.Functions.Orchestrations;
using Durable.Testing;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;

namespace Durable.Engine.Tests;

/// <summary>
/// Activities as the engine runs them: a service scope per work item (a scoped dependency is new for each run and
/// disposed when it ends), retries decided by the product's policy (<see cref="ActivityRetry"/>: transient failures,
/// as <see cref="DurableActivity{TInput,TOutput}"/> marks them, are retried with durable timers; terminal ones are not),
/// and a host that stops mid-activity hands the step to the next host instead of failing it.
/// </summary>
public sealed class ActivityTests
{
    /// <summary>Every scoped probe made and disposed, in order.</summary>
    public sealed class ScopeLog
    {
        public ConcurrentQueue<string> Events { get; } = new();

        public ConcurrentDictionary<int, bool> Disposed { get; } = new();

        private int _next;

        public int NextId() => Interlocked.Increment(ref _next);
    }

    /// <summary>A scoped dependency: one per activity run.</summary>
    public sealed class ScopedProbe : IAsyncDisposable
    {
        private readonly ScopeLog _log;

        public ScopedProbe(ScopeLog log)
        {
            _log = log;
            Id = log.NextId();
            log.Disposed[Id] = false;
            log.Events.Enqueue($"create {Id}");
        }

        public int Id { get; }

        public ValueTask DisposeAsync()
        {
            _log.Events.Enqueue($"dispose {Id}");
            _log.Disposed[Id] = true;
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>Takes the scoped probe twice: one scope gives the same instance to both.</summary>
    public sealed class ProbeActivity(ScopedProbe probe, ScopedProbe again, ScopeLog log) : TaskActivity<int, string>
    {
        public override Task<string> RunAsync(TaskActivityContext context, int input)
        {
            var earlierUndisposed = log.Disposed.Where(d => d.Key < probe.Id && !d.Value).Select(d => d.Key).ToList();
            return Task.FromResult($"{probe.Id}:{ReferenceEquals(probe, again)}:{earlierUndisposed.Count}");
        }
    }

    /// <summary>Counts attempts per key; fails the first <c>FailFirst</c> attempts of a key the way the input says.</summary>
    public sealed class Attempts
    {
        public ConcurrentDictionary<string, int> Count { get; } = new();
    }

    public sealed record FlakyInput(string Key, int FailFirst, bool Transient);

    /// <summary>On the product's activity base, which marks transient failures (a timeout here) for the retry policy.</summary>
    public sealed class FlakyActivity(Attempts attempts) : DurableActivity<FlakyInput, int>
    {
        protected override Task<int> ExecuteAsync(TaskActivityContext context, FlakyInput input, CancellationToken cancellationToken)
        {
            var attempt = attempts.Count.AddOrUpdate(input.Key, 1, (_, n) => n + 1);
            if (attempt <= input.FailFirst)
            {
                throw input.Transient
                    ? new TimeoutException($"attempt {attempt} of {input.Key} timed out")
                    : new InvalidOperationException($"attempt {attempt} of {input.Key} is refused");
            }

            return Task.FromResult(attempt);
        }
    }

    private static readonly TaskOptions FastRetry = ActivityRetry.Transient(4, TimeSpan.FromMilliseconds(200), 1.5);

    private static void Register(DurableTaskRegistry r) => r
        .AddActivity<ProbeActivity>("Probe")
        .AddOrchestratorFunc<object?, string[]>("Probes", async (ctx, _) =>
        {
            var first = await ctx.CallActivityAsync<string>("Probe", 1);
            var second = await ctx.CallActivityAsync<string>("Probe", 2);
            var parallel = await Task.WhenAll(ctx.CallActivityAsync<string>("Probe", 3), ctx.CallActivityAsync<string>("Probe", 4));
            return [first, second, .. parallel];
        })
        .AddActivity<FlakyActivity>("Flaky")
        .AddOrchestratorFunc<FlakyInput, string>("CallsFlaky", async (ctx, input) =>
        {
            try
            {
                return "ok after " + await ctx.CallActivityAsync<int>("Flaky", input, FastRetry);
            }
            catch (TaskFailedException e)
            {
                return $"failed: {e.FailureDetails.ErrorType}: {e.FailureDetails.ErrorMessage}; transient={e.FailureDetails.IsCausedBy<TransientFailureException>()}";
            }
        });

    private static void Services(IServiceCollection s) => s.AddSingleton<ScopeLog>().AddScoped<ScopedProbe>().AddSingleton<Attempts>();

    [Fact]
    public async Task Each_activity_run_gets_its_own_service_scope_disposed_when_the_run_ends()
    {
        await using var hub = await InProcessHub.StartAsync(Register, Services);
        var m = await hub.RunAsync("Probes");
        Assert.Equal(OrchestrationRuntimeStatus.Completed, m.RuntimeStatus);
        var results = m.ReadOutputAs<string[]>()!.Select(r => r.Split(':')).ToList();
        var log = Log(hub);

        // Four runs, four probes; within a run both injections are the same (one scope).
        Assert.Equal(4, results.Select(r => r[0]).Distinct().Count());
        Assert.All(results, r => Assert.Equal("True", r[1]));
        // Sequential runs: the first run's probe was disposed before the second run began.
        Assert.Equal("0", results[1][2]);
        Assert.All(log.Disposed, d => Assert.True(d.Value, $"probe {d.Key} was never disposed"));
        Assert.Equal(4, log.Disposed.Count);
        Assert.Equal(4, log.Events.Count(e => e.StartsWith("dispose ", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_transient_failure_is_retried_by_the_product_policy_with_durable_timers_until_it_succeeds()
    {
        await using var hub = await InProcessHub.StartAsync(Register, Services);
        var m = await hub.RunAsync("CallsFlaky", new FlakyInput("t", FailFirst: 2, Transient: true), "transient");
        Assert.Equal("ok after 3", m.ReadOutputAs<string>());
        var types = await hub.EventTypesAsync("transient");
        Assert.Equal(3, types.Count(t => t == "TaskScheduled"));
        Assert.Equal(2, types.Count(t => t == "TaskFailed"));
        // The waits between attempts are durable timers, not sleeps in the worker.
        Assert.Equal(2, types.Count(t => t == "TimerFired"));
    }

    [Fact]
    public async Task A_transient_failure_that_lasts_fails_the_call_after_the_policy_attempts()
    {
        await using var hub = await InProcessHub.StartAsync(Register, Services);
        var m = await hub.RunAsync("CallsFlaky", new FlakyInput("always", FailFirst: 100, Transient: true), "exhausted");
        Assert.Equal("failed: Durable.Core.Failures.TransientFailureException: attempt 4 of always timed out; transient=True", m.ReadOutputAs<string>());
        Assert.Equal(4, AttemptsOf(hub).Count["always"]);
    }

    [Fact]
    public async Task A_terminal_failure_is_not_retried()
    {
        await using var hub = await InProcessHub.StartAsync(Register, Services);
        var m = await hub.RunAsync("CallsFlaky", new FlakyInput("refused", FailFirst: 1, Transient: false), "terminal");
        Assert.Equal("failed: System.InvalidOperationException: attempt 1 of refused is refused; transient=False", m.ReadOutputAs<string>());
        // A second attempt would have succeeded (only the first fails): it never came.
        Assert.Equal(1, AttemptsOf(hub).Count["refused"]);
        var types = await hub.EventTypesAsync("terminal");
        Assert.Single(types, t => t == "TaskScheduled");
        Assert.DoesNotContain("TimerCreated", types);
    }

    /// <summary>The step that runs until its host stops; later runs return at once.</summary>
    public sealed class StopsWithHost(Attempts attempts) : DurableActivity<string, string>
    {
        protected override async Task<string> ExecuteAsync(TaskActivityContext context, string input, CancellationToken cancellationToken)
        {
            if (attempts.Count.AddOrUpdate(input, 1, (_, n) => n + 1) == 1)
            {
                await Task.Delay(TimeSpan.FromMinutes(10), cancellationToken);
            }

            return "done " + input;
        }
    }

    [Fact]
    public async Task A_host_stopping_mid_activity_abandons_the_step_and_the_next_host_runs_it_again()
    {
        var attempts = new Attempts();
        void Reg(DurableTaskRegistry r) => r
            .AddActivity<StopsWithHost>("StopsWithHost")
            .AddOrchestratorFunc<string, string>("Slow", (ctx, s) => ctx.CallActivityAsync<string>("StopsWithHost", s));
        var services = new ServiceCollection().AddSingleton(attempts).BuildServiceProvider();
        var registry = new DurableTaskRegistry();
        Reg(registry);

        var first = await TestTaskHub.StartAsync(registry, services);
        try
        {
            await first.Client.ScheduleNewOrchestrationInstanceAsync("Slow", "step", new StartOrchestrationOptions("slow"));
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (attempts.Count.GetValueOrDefault("step") == 0)
            {
                Assert.True(DateTime.UtcNow < deadline, "the step never started");
                await Task.Delay(50);
            }

            await first.StopAsync();
            // Not the step's failure: the instance still waits for it.
            Assert.Equal(OrchestrationRuntimeStatus.Running, (await first.Client.GetInstanceAsync("slow"))!.RuntimeStatus);
            Assert.DoesNotContain("TaskFailed", (await first.Client.GetHistoryAsync("slow"))!.Select(e => e!["EventType"]!.GetValue<string>()));
        }
        finally
        {
            await first.DisposeAsync();
        }

        // The next host on the same hub: the abandoned step reappears (the first abandon hides it for 2 s) and runs again.
        var second = await TestTaskHub.StartAsync(registry, services, first.Name);
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var m = await second.Client.WaitForInstanceCompletionAsync("slow", getInputsAndOutputs: true, cts.Token);
            Assert.Equal("done step", m.ReadOutputAs<string>());
            Assert.Equal(2, attempts.Count["step"]);
        }
        finally
        {
            await second.DisposeAndDeleteAsync();
        }
    }

    private static ScopeLog Log(InProcessHub hub) => hub.Services.GetRequiredService<ScopeLog>();

    private static Attempts AttemptsOf(InProcessHub hub) => hub.Services.GetRequiredService<Attempts>();
}
