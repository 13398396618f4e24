using System.Net;
using System.Text;
using System.Text.Json;
using Durable.Functions.MoveTables;
using Durable.Functions.Orchestrations;
using Durable.Functions.Tests.Support;
using Durable.Functions.VDiff;
using Durable.VDiff;
using Microsoft.DurableTask;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Durable.Functions.Tests;

/// <summary>One host for the checks that only send requests: a host start and stop costs seconds on a real task hub.</summary>
public sealed class VDiffHostFixture : IAsyncLifetime
{
    public TestHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await TestHost.StartAsync(services =>
    {
        // Pointing at an unreachable etcd: nothing in these tests may get that far.
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DURABLE_ETCD_ENDPOINTS"] = "http://127.0.0.1:9",
            ["DURABLE_ENGINE_PASSWORD"] = "unused",
        }).Build();
        services.AddMoveTables(config);
        services.AddVDiff(config);
    }, new Dictionary<string, string> { ["DURABLE_HOST_KEY"] = "vk" });

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

/// <summary>The VDiff HTTP API's checks that need no server: names, actions, methods, keys; and the host registers the VDiff orchestrations.</summary>
public sealed class VDiffFunctionsTests(VDiffHostFixture fixture) : IClassFixture<VDiffHostFixture>
{

    private static async Task<(HttpStatusCode Status, string Message)> SendAsync(TestHost host, HttpMethod method, string path, string? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Add("x-functions-key", "vk");
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        using var response = await host.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var message = text.Length > 0 && JsonDocument.Parse(text).RootElement is { ValueKind: JsonValueKind.Object } o && o.TryGetProperty("message", out var m) ? m.GetString()! : text;
        return (response.StatusCode, message);
    }

    [Theory]
    [InlineData("POST", "/api/vdiff/customer/wf/explode", null, "VDiff action 'explode' is invalid: create, show, stop, resume or delete.")]
    [InlineData("POST", "/api/vdiff/cust%60omer/wf/create", null, "cust`omer")]
    [InlineData("POST", "/api/vdiff/customer/wf%27x/create", null, "--workflow 'wf'x' is invalid")]
    [InlineData("POST", "/api/vdiff/customer/wf/create", "{\"max_diff_duration\": \"forever\"}", "--max-diff-duration 'forever' is invalid")]
    [InlineData("POST", "/api/vdiff/customer/wf/create", "{\"tablet_types\": \"PRIMARY,LEADER\"}", "'LEADER'")]
    [InlineData("POST", "/api/vdiff/customer/wf/create", "{\"tables\": [\"a`b\"]}", "--tables entry 'a`b' is invalid")]
    [InlineData("POST", "/api/vdiff/customer/wf/create", "{\"chunk_rows\": -5}", "--chunk-rows -5 is invalid")]
    [InlineData("POST", "/api/vdiff/customer/wf/create", "[1,2]", "not a valid VDiff create request")]
    [InlineData("POST", "/api/vdiff/customer/wf/create", "{\"tabel_types\": \"PRIMARY\"}", "'tabel_types'")]
    [InlineData("POST", "/api/vdiff/customer/wf/stop", null, "VDiff stop needs a VDiff uuid")]
    [InlineData("POST", "/api/vdiff/customer/wf/stop/last", null, "VDiff uuid 'last' is invalid")]
    [InlineData("DELETE", "/api/vdiff/customer/wf/delete/yesterday", null, "VDiff delete 'yesterday' is invalid: use all or a VDiff uuid.")]
    public async Task Bad_input_is_refused_with_400_naming_the_bad_value(string method, string path, string? body, string message)
    {
        var (status, text) = await SendAsync(fixture.Host, new HttpMethod(method), path, body);
        Assert.True(status == HttpStatusCode.BadRequest, $"{status}: {text}");
        Assert.Contains(message, text);
    }

    [Fact]
    public async Task Wrong_method_is_405_and_a_missing_key_is_401()
    {
        var host = fixture.Host;
        var (status, text) = await SendAsync(host, HttpMethod.Get, "/api/vdiff/customer/wf/create");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, status);
        Assert.Contains("VDiff create takes POST, not GET", text);

        using var anonymous = await host.Client.GetAsync("/api/vdiff/customer/wf/show/last");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }

    [Fact]
    public void Instance_ids_are_per_workflow_and_uuid_and_a_resume_gets_its_own()
    {
        var uuid = Guid.NewGuid().ToString();
        Assert.Equal($"vdiff:customer.wf:{uuid}", VDiffFunctions.InstanceId("customer", "wf", uuid));
        Assert.NotEqual(VDiffFunctions.InstanceId("customer", "wf", uuid), VDiffFunctions.InstanceId("customer", "wf", uuid, "resume-1"));
    }

    private static async Task<TimeSpan?> HostDefaultIntervalAsync(string? setting)
    {
        var values = new Dictionary<string, string?> { ["DURABLE_ETCD_ENDPOINTS"] = "http://127.0.0.1:9", ["DURABLE_ENGINE_PASSWORD"] = "unused" };
        if (setting is not null)
        {
            values[VDiffFunctions.IntervalSetting] = setting;
        }

        var config = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        await using var host = await TestHost.StartAsync(services =>
        {
            services.AddMoveTables(config);
            services.AddVDiff(config);
        }, new Dictionary<string, string> { ["DURABLE_HOST_KEY"] = "vk" });
        // What the host's MoveTables orchestrator function is constructed with.
        return host.Services.GetRequiredService<VDiffLifecycle.HostSettings>().DefaultInterval;
    }

    [Fact]
    public async Task Each_host_keeps_its_own_default_vdiff_interval()
    {
        // Hosts built one after another in one process: before, the last one's setting was every host's (a static).
        Assert.Equal(TimeSpan.FromMinutes(30), await HostDefaultIntervalAsync("30m"));
        Assert.Null(await HostDefaultIntervalAsync("off"));
        // Unset: no schedule, as in Vitess (only a VDiff that found differences holds a switch).
        Assert.Null(await HostDefaultIntervalAsync(null));
        Assert.Equal(TimeSpan.FromMinutes(30), await HostDefaultIntervalAsync("30m"));
    }

    [Fact]
    public async Task The_host_registers_the_VDiff_orchestrations_and_activities()
    {
        var host = fixture.Host;
        var registry = host.Services.GetRequiredService<DurableTaskRegistry>();
        var orchestrators = registry.GetOrchestrators().Select(o => o.Key.Name).ToHashSet();
        foreach (var name in new[] { VDiffOrchestration.Orchestrator, VDiffOrchestration.ShardOrchestrator, VDiffOrchestration.ScheduleOrchestrator })
        {
            Assert.True(orchestrators.Contains(name), name);
        }

        var activities = registry.GetActivities().Select(a => a.Key.Name).ToHashSet();
        foreach (var name in new[] { VDiffOrchestration.CreateActivity, VDiffOrchestration.RunShardActivity, VDiffOrchestration.OutcomeActivity })
        {
            Assert.True(activities.Contains(name), name);
        }
    }
}
