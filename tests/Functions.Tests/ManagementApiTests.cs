using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Durable.Functions.Runner;
using Durable.Functions.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Durable.Functions.Tests;

/// <summary>
/// One in-process host with a private task hub on the cluster's Azurite for all the management API tests: a host start
/// and stop costs seconds on a real hub. Each test uses instance ids of its own.
/// </summary>
public sealed class ManagementApiHost : IAsyncLifetime
{
    public const string Key = "test-host-key";

    public TestHost Host { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Host = await TestHost.StartAsync(services => services.AddOrchestrations(r => r
                .AddOrchestratorFunc<string, string>("Greet", async (ctx, name) =>
                {
                    var hello = await ctx.CallActivityAsync<string>("Hello", name);
                    ctx.SetCustomStatus(new { stage = "waiting for approval" });
                    var approval = await ctx.WaitForExternalEvent<JsonElement>("Approval");
                    return $"{hello}; approved by {approval.GetProperty("by").GetString()}";
                })
                .AddActivityFunc<string, string>("Hello", (_, n) => $"Hello {n}")),
            new Dictionary<string, string> { ["DURABLE_HOST_KEY"] = Key });
        Host.Client.DefaultRequestHeaders.Add("x-functions-key", Key);
    }

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

/// <summary>The management API's HTTP contract on an in-process host (the contract, with the real task hub behind it).</summary>
public sealed class ManagementApiTests(ManagementApiHost fixture) : IClassFixture<ManagementApiHost>
{
    private const string Key = ManagementApiHost.Key;
    private readonly TestHost _host = fixture.Host;

    private HttpClient Http => _host.Client;

    private async Task<JsonElement> StartGreetAsync(string id)
    {
        var response = await Http.PostAsync($"/runtime/webhooks/durabletask/orchestrators/Greet/{id}", Json("\"Ada\""));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> StatusAsync(string id, string query = "")
    {
        var r = await Http.GetAsync($"/runtime/webhooks/durabletask/instances/{id}{query}");
        return (r.StatusCode, r.StatusCode == HttpStatusCode.NotFound ? default : await r.Content.ReadFromJsonAsync<JsonElement>());
    }

    private async Task WaitForStatusAsync(string id, string status)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var (_, body) = await StatusAsync(id);
            if (body.ValueKind == JsonValueKind.Object && body.GetProperty("runtimeStatus").GetString() == status)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"instance {id} never reached {status}; last: {body}");
            await Task.Delay(50);
        }
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    [Fact]
    public async Task Start_returns_202_with_location_retry_after_and_the_management_links()
    {
        var response = await Http.PostAsync("/runtime/webhooks/durabletask/orchestrators/Greet/start-1", Json("\"Ada\""));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("start-1", body.GetProperty("id").GetString());
        var statusUri = body.GetProperty("statusQueryGetUri").GetString()!;
        Assert.Equal(statusUri, response.Headers.Location!.ToString());
        Assert.Equal(TimeSpan.FromSeconds(10), response.Headers.RetryAfter!.Delta);
        Assert.Contains($"/runtime/webhooks/durabletask/instances/start-1?taskHub={_host.HubName}&connection=AzureWebJobsStorage", statusUri);
        Assert.Contains("/instances/start-1/raiseEvent/{eventName}?", body.GetProperty("sendEventPostUri").GetString());
        Assert.Contains("/instances/start-1/terminate?reason={text}&", body.GetProperty("terminatePostUri").GetString());
        Assert.Contains("/instances/start-1?", body.GetProperty("purgeHistoryDeleteUri").GetString());
        Assert.Contains("/instances/start-1/suspend?reason={text}&", body.GetProperty("suspendPostUri").GetString());
        Assert.Contains("/instances/start-1/resume?reason={text}&", body.GetProperty("resumePostUri").GetString());
        // A key sent in a header is never copied into the response.
        Assert.DoesNotContain(Key, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Full_lifecycle_status_raise_event_completion_and_purge()
    {
        await StartGreetAsync("life-1");
        await WaitForStatusAsync("life-1", "Running");
        var running = await Http.GetAsync("/runtime/webhooks/durabletask/instances/life-1");
        Assert.Equal(HttpStatusCode.Accepted, running.StatusCode);
        Assert.NotNull(running.Headers.Location);
        Assert.Equal(TimeSpan.FromSeconds(5), running.Headers.RetryAfter!.Delta);

        // Wait until the orchestration is parked on the event (custom status set after the activity).
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while ((await StatusAsync("life-1")).Body.GetProperty("customStatus").ValueKind != JsonValueKind.Object)
        {
            Assert.True(DateTime.UtcNow < deadline, "activity never completed");
            await Task.Delay(50);
        }

        var raise = await Http.PostAsync("/runtime/webhooks/durabletask/instances/life-1/raiseEvent/Approval", Json("""{"by":"ops"}"""));
        Assert.Equal(HttpStatusCode.Accepted, raise.StatusCode);
        await WaitForStatusAsync("life-1", "Completed");

        var (status, body) = await StatusAsync("life-1", "?showHistory=true");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Greet", body.GetProperty("name").GetString());
        Assert.Equal("Ada", body.GetProperty("input").GetString());
        Assert.Equal("Hello Ada; approved by ops", body.GetProperty("output").GetString());
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", body.GetProperty("createdTime").GetString()!);
        Assert.True(body.GetProperty("historyEvents").GetArrayLength() > 3);

        // Finished instances take no more events or control operations.
        var late = await Http.PostAsync("/runtime/webhooks/durabletask/instances/life-1/raiseEvent/Approval", Json("{}"));
        Assert.Equal(HttpStatusCode.Gone, late.StatusCode);
        Assert.Equal(HttpStatusCode.Gone, (await Http.PostAsync("/runtime/webhooks/durabletask/instances/life-1/terminate", null)).StatusCode);

        var purge = await Http.DeleteAsync("/runtime/webhooks/durabletask/instances/life-1");
        Assert.Equal(HttpStatusCode.OK, purge.StatusCode);
        Assert.Equal(1, (await purge.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("instancesDeleted").GetInt32());
        Assert.Equal(HttpStatusCode.NotFound, (await StatusAsync("life-1")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Http.DeleteAsync("/runtime/webhooks/durabletask/instances/life-1")).StatusCode);
    }

    [Fact]
    public async Task Suspend_resume_and_terminate()
    {
        await StartGreetAsync("ctl-1");
        await WaitForStatusAsync("ctl-1", "Running");
        Assert.Equal(HttpStatusCode.Accepted, (await Http.PostAsync("/runtime/webhooks/durabletask/instances/ctl-1/suspend?reason=maintenance", null)).StatusCode);
        await WaitForStatusAsync("ctl-1", "Suspended");
        Assert.Equal(HttpStatusCode.Accepted, (await Http.PostAsync("/runtime/webhooks/durabletask/instances/ctl-1/resume?reason=done", null)).StatusCode);
        await WaitForStatusAsync("ctl-1", "Running");
        // A running instance cannot be purged.
        Assert.Equal(HttpStatusCode.Conflict, (await Http.DeleteAsync("/runtime/webhooks/durabletask/instances/ctl-1")).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await Http.PostAsync("/runtime/webhooks/durabletask/instances/ctl-1/terminate?reason=abandoned", null)).StatusCode);
        await WaitForStatusAsync("ctl-1", "Terminated");
        Assert.Equal(HttpStatusCode.OK, (await StatusAsync("ctl-1")).Status);
    }

    [Fact]
    public async Task Errors_have_the_documented_status_codes_and_say_what_is_wrong()
    {
        var unknown = await Http.PostAsync("/runtime/webhooks/durabletask/orchestrators/NoSuch", Json("null"));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("registered: Greet", await unknown.Content.ReadAsStringAsync());

        var badJson = await Http.PostAsync("/runtime/webhooks/durabletask/orchestrators/Greet", Json("{nope"));
        Assert.Equal(HttpStatusCode.BadRequest, badJson.StatusCode);
        Assert.Contains("not valid JSON", await badJson.Content.ReadAsStringAsync());

        await StartGreetAsync("err-1");
        var twice = await Http.PostAsync("/runtime/webhooks/durabletask/orchestrators/Greet/err-1", Json("\"x\""));
        Assert.Equal(HttpStatusCode.Conflict, twice.StatusCode);

        var textPlain = await Http.PostAsync("/runtime/webhooks/durabletask/instances/err-1/raiseEvent/Approval", new StringContent("{}", Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.BadRequest, textPlain.StatusCode);
        Assert.Contains("application/json", await textPlain.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.NotFound, (await Http.PostAsync("/runtime/webhooks/durabletask/instances/missing/raiseEvent/Approval", Json("{}"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Http.PostAsync("/runtime/webhooks/durabletask/instances/missing/suspend", null)).StatusCode);
        var badStatus = await Http.GetAsync("/runtime/webhooks/durabletask/instances?runtimeStatus=Sleeping");
        Assert.Equal(HttpStatusCode.BadRequest, badStatus.StatusCode);
        Assert.Contains("'Sleeping'", await badStatus.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.BadRequest, (await Http.DeleteAsync("/runtime/webhooks/durabletask/instances")).StatusCode);
    }

    [Fact]
    public async Task List_filters_and_pages_with_continuation_tokens()
    {
        foreach (var i in Enumerable.Range(0, 3))
        {
            await StartGreetAsync($"page-{i}");
        }

        var ids = new List<string>();
        string? token = null;
        var pages = 0;
        do
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/runtime/webhooks/durabletask/instances?instanceIdPrefix=page-&top=2");
            if (token is not null)
            {
                request.Headers.Add("x-ms-continuation-token", token);
            }

            var response = await Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var page = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.True(page.GetArrayLength() <= 2);
            ids.AddRange(page.EnumerateArray().Select(e => e.GetProperty("instanceId").GetString()!));
            token = response.Headers.TryGetValues("x-ms-continuation-token", out var t) ? t.First() : null;
            pages++;
        }
        while (token is not null && pages < 10);

        Assert.Equal(["page-0", "page-1", "page-2"], ids.Order());
        Assert.True(pages >= 2);
    }

    [Fact]
    public async Task Requests_without_a_valid_key_get_401_with_a_clear_body()
    {
        using var anonymous = new HttpClient(((Microsoft.AspNetCore.TestHost.TestServer)_host.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()).CreateHandler())
        {
            BaseAddress = _host.Client.BaseAddress,
        };
        var none = await anonymous.GetAsync("/runtime/webhooks/durabletask/instances/x");
        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        var body = await none.Content.ReadAsStringAsync();
        Assert.Contains("x-functions-key", body);
        Assert.Contains("durabletask", body);

        var wrong = await anonymous.GetAsync("/runtime/webhooks/durabletask/instances/x?code=not-the-key");
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.DoesNotContain("not-the-key", await wrong.Content.ReadAsStringAsync());

        // ?code= works too, and then the links carry it so they work the same way.
        var started = await anonymous.PostAsync($"/runtime/webhooks/durabletask/orchestrators/Greet/code-1?code={Key}", Json("\"x\""));
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        Assert.Contains($"code={Key}", (await started.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("statusQueryGetUri").GetString());
    }
}
