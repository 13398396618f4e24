using System.Collections.Concurrent;
using System.Diagnostics;
using Durable.Functions.App;
using Durable.Functions.Runner;
using Durable.Functions.Http;
using Durable.Functions.Tests.Support;
using Microsoft.AspNetCore.Http;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;

namespace Durable.Functions.Tests;

/// <summary>Traces: a TracerProvider only when OTLP is configured, and the host's spans (function, orchestration, activity).</summary>
public sealed class TracingTests
{
    private static void Functions(IServiceCollection s)
    {
        s.AddFunction(new HttpTriggerFunction("Traced", "traced", ["GET"], AuthorizationLevel.Anonymous, (_, _) => Task.FromResult(Results.Ok())));
        s.AddOrchestrations(r => r.AddOrchestratorFunc<int, int>("TracedDouble", async (ctx, n) => await ctx.CallActivityAsync<int>("TracedTwice", n))
            .AddActivityFunc<int, int>("TracedTwice", (_, n) => n * 2));
    }

    [Fact]
    public async Task Without_an_OTLP_endpoint_no_tracer_provider_is_built()
    {
        await using var host = await TestHost.StartAsync(Functions);
        Assert.Null(host.Services.GetService<TracerProvider>());
    }

    [Fact]
    public async Task With_an_OTLP_endpoint_functions_orchestrations_and_activities_make_spans()
    {
        var spans = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is "Durable.Functions" or "Durable.Engine",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Add,
        };
        ActivitySource.AddActivityListener(listener);
        // Nothing listens there: the exporter's failed sends are its own business, the spans are made all the same.
        await using var host = await TestHost.StartAsync(Functions, new Dictionary<string, string> { ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:9" });
        Assert.NotNull(host.Services.GetService<TracerProvider>());

        Assert.Equal(System.Net.HttpStatusCode.OK, (await host.Client.GetAsync("/api/traced")).StatusCode);
        var client = host.Services.GetRequiredService<DurableTaskClient>();
        var id = await client.ScheduleNewOrchestrationInstanceAsync("TracedDouble", 4);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        Assert.Equal(8, (await client.WaitForInstanceCompletionAsync(id, true, cts.Token)).ReadOutputAs<int>());

        var function = Assert.Single(spans, s => s.DisplayName == "function Traced");
        Assert.Equal("http", function.GetTagItem("faas.trigger"));
        Assert.Equal("succeeded", function.GetTagItem("durable.outcome"));
        Assert.True(function.Duration > TimeSpan.Zero);
        Assert.Contains(spans, s => s.DisplayName == "activity TracedTwice" && (string?)s.GetTagItem("durable.instance_id") == id);
        Assert.Contains(spans, s => s.DisplayName == "orchestration TracedDouble" && (string?)s.GetTagItem("durable.status") == "Completed");
    }
}
