using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Durable.Functions.App;
using Durable.Functions.Runner;
using Durable.Functions.Http;
using Durable.Functions.Tests.Support;
using Durable.Testing;
using Microsoft.AspNetCore.Http;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;

namespace Durable.Functions.Tests;

/// <summary>HTTP triggers, keys, /metrics and start-up validation on an in-process host.</summary>
public sealed class HostTests
{
    private static void Functions(IServiceCollection s)
    {
        s.AddFunction(new HttpTriggerFunction("Health", "health", ["GET"], AuthorizationLevel.Anonymous, (_, _) => Task.FromResult(Results.Ok(new { status = "ok" }))));
        s.AddFunction(new HttpTriggerFunction("Echo", "echo/{word}", ["GET", "POST"], AuthorizationLevel.Function,
            (http, ctx) => Task.FromResult(Results.Ok(new { word = http.Request.RouteValues["word"], function = ctx.FunctionName }))));
        s.AddFunction(new HttpTriggerFunction("Wipe", "admin/wipe", ["POST"], AuthorizationLevel.Admin, (_, _) => Task.FromResult(Results.Ok())));
        s.AddFunction(new HttpTriggerFunction("Boom", "boom", ["GET"], AuthorizationLevel.Anonymous, (_, _) => throw new InvalidOperationException("boom")));
    }

    private static readonly Dictionary<string, string> Keys = new()
    {
        ["DURABLE_HOST_KEY"] = "host-key",
        ["DURABLE_MASTER_KEY"] = "master-key",
        ["DURABLE_FUNCTION_KEY_Echo"] = "echo-key",
    };

    private static async Task<HttpResponseMessage> Get(TestHost host, string path, string? key = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (key is not null)
        {
            request.Headers.Add("x-functions-key", key);
        }

        return await host.Client.SendAsync(request);
    }

    [Fact]
    public async Task Http_triggers_live_under_api_and_check_function_keys()
    {
        await using var host = await TestHost.StartAsync(Functions, Keys);
        Assert.Equal(HttpStatusCode.OK, (await Get(host, "/api/health")).StatusCode);

        var ok = await Get(host, "/api/echo/hi", "echo-key");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        var body = await ok.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("hi", body.GetProperty("word").GetString());
        Assert.Equal("Echo", body.GetProperty("function").GetString());
        Assert.Equal(HttpStatusCode.OK, (await Get(host, "/api/echo/hi", "host-key")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Get(host, "/api/echo/hi?code=master-key")).StatusCode);

        var missing = await Get(host, "/api/echo/hi");
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        var error = await missing.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Missing", error.GetProperty("reason").GetString());
        Assert.Contains("x-functions-key", error.GetProperty("message").GetString());

        Assert.Equal(HttpStatusCode.Unauthorized, (await Get(host, "/api/echo/hi", "wrong")).StatusCode);

        using var wipeWithHostKey = new HttpRequestMessage(HttpMethod.Post, "/api/admin/wipe");
        wipeWithHostKey.Headers.Add("x-functions-key", "host-key");
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.Client.SendAsync(wipeWithHostKey)).StatusCode);
        using var wipe = new HttpRequestMessage(HttpMethod.Post, "/api/admin/wipe");
        wipe.Headers.Add("x-functions-key", "master-key");
        Assert.Equal(HttpStatusCode.OK, (await host.Client.SendAsync(wipe)).StatusCode);

        // Methods not declared are not answered.
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await Get(host, "/api/admin/wipe", "master-key")).StatusCode);
    }

    [Fact]
    public async Task No_configured_keys_means_401_naming_the_setting_not_an_open_door()
    {
        await using var host = await TestHost.StartAsync(Functions);
        var r = await Get(host, "/api/echo/hi", "anything");
        Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
        Assert.Contains("DURABLE_HOST_KEY", await r.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await Get(host, "/api/health")).StatusCode);
    }

    [Fact]
    public async Task Metrics_are_prometheus_text_with_trigger_and_engine_instruments()
    {
        await using var host = await TestHost.StartAsync(s =>
        {
            Functions(s);
            s.AddOrchestrations(r => r.AddOrchestratorFunc<int, int>("Double", async (ctx, n) => await ctx.CallActivityAsync<int>("Twice", n))
                .AddActivityFunc<int, int>("Twice", (_, n) => n * 2));
        }, Keys);
        await Get(host, "/api/echo/a", "host-key");
        await Get(host, "/api/echo/b", "host-key");
        await Get(host, "/api/echo/c");
        Assert.Equal(HttpStatusCode.InternalServerError, (await Get(host, "/api/boom")).StatusCode);
        var client = host.Services.GetRequiredService<DurableTaskClient>();
        var id = await client.ScheduleNewOrchestrationInstanceAsync("Double", 21);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var done = await client.WaitForInstanceCompletionAsync(id, true, cts.Token);
        Assert.Equal(42, done.ReadOutputAs<int>());

        var response = await Get(host, "/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("# TYPE durable_function_invocations_total counter", text);
        Assert.Contains("durable_function_invocations_total{function=\"Echo\",outcome=\"succeeded\",trigger=\"http\"} 2", text);
        Assert.Contains("durable_function_invocations_total{function=\"Boom\",outcome=\"failed\",trigger=\"http\"} 1", text);
        Assert.Contains("durable_http_requests_total{function=\"Echo\",status=\"401\"} 1", text);
        Assert.Contains("durable_http_requests_total{function=\"Echo\",status=\"200\"} 2", text);
        Assert.Contains("durable_http_requests_total{function=\"Boom\",status=\"500\"} 1", text);
        Assert.Contains("# TYPE durable_function_duration_seconds histogram", text);
        // The engine's meter (episodes, completions, activities) comes through the same listener.
        Assert.Contains("durable_orchestration_completed_total{orchestrator=\"Double\",status=\"Completed\"} 1", text);
        Assert.Contains("durable_activity_executions_total{activity=\"Twice\",outcome=\"succeeded\"} 1", text);
        Assert.Contains("durable_activity_duration_seconds_bucket", text);
    }

    [Fact]
    public async Task Invalid_functions_stop_the_host_at_start_with_the_function_named()
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => TestHost.StartAsync(s =>
            s.AddFunction(new TimerTriggerFunction("Nightly", "0 0 25 * * *", (_, _) => Task.CompletedTask))));
        Assert.Contains("Function Nightly", e.Message);
        Assert.Contains("hour field '25'", e.Message);

        var q = await Assert.ThrowsAsync<InvalidOperationException>(() => TestHost.StartAsync(s =>
            s.AddFunction(new QueueTriggerFunction("Orders", "Orders_Queue", (_, _) => Task.CompletedTask))));
        Assert.Contains("Queue name 'Orders_Queue' is not valid", q.Message);

        var missing = await Assert.ThrowsAsync<HostJsonException>(() => TestHost.StartAsync(s =>
            s.AddFunction(new QueueTriggerFunction("Orders", "%ORDERS_QUEUE%", (_, _) => Task.CompletedTask))));
        Assert.Contains("ORDERS_QUEUE", missing.Message);

        var dup = await Assert.ThrowsAsync<InvalidOperationException>(() => TestHost.StartAsync(s =>
        {
            Functions(s);
            s.AddFunction(new HttpTriggerFunction("Echo2", "echo/{word}", ["GET"], AuthorizationLevel.Function, (_, _) => Task.FromResult(Results.Ok())));
        }));
        Assert.Contains("both answer GET echo/{word}", dup.Message);
    }

    [Fact]
    public async Task Http_trigger_is_cancelled_at_function_timeout()
    {
        await using var host = await TestHost.StartAsync(s => s.AddFunction(new HttpTriggerFunction("Stuck", "stuck", ["GET"], AuthorizationLevel.Anonymous,
            async (_, ctx) =>
            {
                await Task.Delay(TimeSpan.FromMinutes(5), ctx.CancellationToken);
                return Results.Ok();
            })), hostJson: TestHost.HostJson(TestTaskHub.NewName(), functionTimeout: "00:00:01"));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var r = await Get(host, "/api/stuck");
        Assert.Equal(HttpStatusCode.InternalServerError, r.StatusCode);
        Assert.Contains("exceeded host.json functionTimeout 00:00:01", await r.Content.ReadAsStringAsync());
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task Disabled_functions_are_not_mapped()
    {
        await using var host = await TestHost.StartAsync(Functions, new Dictionary<string, string>(Keys) { ["AzureWebJobs.Echo.Disabled"] = "true" });
        Assert.Equal(HttpStatusCode.NotFound, (await Get(host, "/api/echo/hi", "host-key")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Get(host, "/api/health")).StatusCode);
    }

    [Fact]
    public async Task Bad_settings_are_refused_with_the_value_named()
    {
        var runtime = await Assert.ThrowsAsync<HostJsonException>(() => TestHost.StartAsync(Functions, new Dictionary<string, string> { ["FUNCTIONS_WORKER_RUNTIME"] = "node" }));
        Assert.Contains("'node'", runtime.Message);
        var shutdown = await Assert.ThrowsAsync<HostJsonException>(() => TestHost.StartAsync(Functions, new Dictionary<string, string> { ["DURABLE_SHUTDOWN_TIMEOUT"] = "soon" }));
        Assert.Contains("'soon'", shutdown.Message);
        var hub = await Assert.ThrowsAsync<HostJsonException>(() => TestHost.StartAsync(Functions, hostJson: """
            { "version": "2.0", "extensions": { "durableTask": { "hubName": "%HUB%", "storageProvider": { "type": "AzureStorage" } } } }
            """, settings: new Dictionary<string, string> { ["HUB"] = "bad-hub" }));
        Assert.Contains("'bad-hub'", hub.Message);
    }

    [Fact]
    public void Script_root_must_exist_when_given()
    {
        var e = Assert.Throws<HostJsonException>(() => LocalRunner.FindScriptRoot("/no/such/dir"));
        Assert.Contains("/no/such/dir", e.Message);
    }
}
