using System.Net;
using System.Text;
using System.Text.Json;
using Durable.Functions.App;
using Durable.Functions.Runner;
using Durable.Workflows;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Durable.Functions.Tests;

/// <summary>
/// The MoveTables API in the Durable Functions shape, as a Durable Functions poller (or a pipeline step written for one)
/// meets it on a host over the real cluster: create answers 202 with Location, Retry-After and the check-status
/// payload; its status URI answers 202 while the workflow runs and 200 once it is done, the phase in customStatus;
/// terminate and purge are refused while the workflow owns streams, guards or routing rules (they would leave writes
/// refused); unknown fields and unknown cells are refused up front naming what would be valid.
/// </summary>
[Trait("Category", "Integration")]
public sealed class CheckStatusApiTests(MoveTablesApiFixture bed) : IClassFixture<MoveTablesApiFixture>
{
    private string Wf(string name) => $"{name}_{bed.Suffix}";

    private static string Create(string workflow) => $"/api/movetables/customer/{workflow}/create";

    private async Task<(int Status, JsonElement Body, string Text, HttpResponseMessage Response)> SendAsync(HttpMethod method, string url, string? json = null)
    {
        using var request = new HttpRequestMessage(method, url);
        request.Headers.Add("x-functions-key", MoveTablesApiFixture.Key);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        var response = await bed.Host.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        JsonElement body = default;
        try
        {
            body = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        }
        catch (JsonException)
        {
            // reported through Text
        }

        return ((int)response.StatusCode, body, text, response);
    }

    [Fact]
    public async Task Create_answers_the_check_status_payload_and_the_status_uri_answers_202_until_done()
    {
        var wf = Wf("poll");
        var spec = JsonSerializer.Serialize(new { source_keyspace = "commerce", tables = new[] { bed.TableB }, vdiff_interval = "off" });
        var (status, created, text, response) = await SendAsync(HttpMethod.Post, Create(wf), spec);
        Assert.True(status == 202, text);
        var id = created.GetProperty("id").GetString()!;
        Assert.Equal($"movetables:customer.{wf}", id);
        Assert.True(created.GetProperty("created").GetBoolean(), text);
        foreach (var field in new[] { "statusQueryGetUri", "sendEventPostUri", "terminatePostUri", "purgeHistoryDeleteUri", "showUri", "statusUri" })
        {
            Assert.True(created.TryGetProperty(field, out var value) && value.GetString()!.StartsWith("http", StringComparison.Ordinal), $"{field} missing: {text}");
        }

        var statusUri = created.GetProperty("statusQueryGetUri").GetString()!;
        Assert.Equal(statusUri, response.Headers.Location?.ToString());
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Contains("{eventName}", created.GetProperty("sendEventPostUri").GetString());

        // A repeated create is the same instance, and says so.
        var (againStatus, again, againText, _) = await SendAsync(HttpMethod.Post, Create(wf), spec);
        Assert.True(againStatus == 202, againText);
        Assert.False(again.GetProperty("created").GetBoolean(), againText);
        Assert.Equal(id, again.GetProperty("id").GetString());
        Assert.Equal(statusUri, again.GetProperty("statusQueryGetUri").GetString());

        // While the workflow runs, the status URI answers 202 (a Durable Functions poller keeps polling) with the phase.
        var running = await bed.WaitStateAsync(wf, s => s.Phase is Phases.Running or Phases.Failed, "copied and replicating");
        Assert.True(running.Phase == Phases.Running, running.LastError);
        var (pollStatus, poll, pollText, pollResponse) = await SendAsync(HttpMethod.Get, statusUri);
        Assert.True(pollStatus == 202, pollText);
        Assert.Equal(id, poll.GetProperty("instanceId").GetString());
        Assert.Equal("Running", poll.GetProperty("runtimeStatus").GetString());
        Assert.Equal(Phases.Running, poll.GetProperty("customStatus").GetProperty("phase").GetString());
        Assert.NotNull(pollResponse.Headers.RetryAfter);

        // Terminate and purge would leave the streams, the guards and the routing rules behind: refused, naming them.
        var before = await bed.SnapshotAsync();
        var (termStatus, term, termText, _) = await SendAsync(HttpMethod.Post, created.GetProperty("terminatePostUri").GetString()!.Replace("{text}", "test", StringComparison.Ordinal));
        Assert.True(termStatus == 409, termText);
        var termMessage = term.GetProperty("message").GetString()!;
        Assert.Contains("stream", termMessage);
        Assert.Contains("guard", termMessage);
        Assert.Contains("Cancel", termMessage);
        var (purgeStatus, _, purgeText, _) = await SendAsync(HttpMethod.Delete, created.GetProperty("purgeHistoryDeleteUri").GetString()!);
        Assert.True(purgeStatus == 409, purgeText);
        Assert.Contains("Cancel", purgeText);

        // The same through the management API the local runner serves.
        var webhook = $"/runtime/webhooks/durabletask/instances/{Uri.EscapeDataString(id)}";
        var (hookTerm, _, hookTermText, _) = await SendAsync(HttpMethod.Post, webhook + "/terminate?reason=test");
        Assert.True(hookTerm == 409, hookTermText);
        var (hookPurge, _, hookPurgeText, _) = await SendAsync(HttpMethod.Delete, webhook);
        Assert.True(hookPurge == 409, hookPurgeText);
        Assert.Equal(before, await bed.SnapshotAsync());
        Assert.Equal(Phases.Running, (await bed.StateAsync(wf))!.Phase);

        // The workflow's commands are its events: Cancel through sendEventPostUri, then the status URI answers 200.
        var cancelUri = created.GetProperty("sendEventPostUri").GetString()!.Replace("{eventName}", "cancel", StringComparison.Ordinal);
        var (cancelStatus, _, cancelText, _) = await SendAsync(HttpMethod.Post, cancelUri, "{}");
        Assert.True(cancelStatus == 202, cancelText);
        await bed.WaitStateAsync(wf, s => s.Phase == Phases.Cancelled, "cancelled");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        (int Status, JsonElement Body, string Text, HttpResponseMessage Response) done;
        do
        {
            done = await SendAsync(HttpMethod.Get, statusUri);
        }
        while (done.Status == 202 && DateTime.UtcNow < deadline && await Task.Delay(100).ContinueWith(_ => true));

        Assert.True(done.Status == 200, done.Text);
        Assert.Equal(Phases.Cancelled, done.Body.GetProperty("customStatus").GetProperty("phase").GetString());

        // Cleaned up, it owns nothing: purge goes through and the instance is gone.
        var (purged, _, purgedText, _) = await SendAsync(HttpMethod.Delete, created.GetProperty("purgeHistoryDeleteUri").GetString()!);
        Assert.True(purged == 200, purgedText);
        var (gone, _, goneText, _) = await SendAsync(HttpMethod.Get, statusUri);
        Assert.True(gone == 404, goneText);
    }

    [Fact]
    public async Task The_nightly_purge_keeps_the_history_of_a_workflow_that_still_owns_guards()
    {
        // An orchestration that ended while its workflow still owns streams and guards: here terminated directly, as the
        // Functions host's own webhook would under Azure. Purging its history would lose the state that says what to clean.
        var wf = Wf("orphan");
        var (status, created, text, _) = await SendAsync(HttpMethod.Post, Create(wf),
            JsonSerializer.Serialize(new { source_keyspace = "commerce", tables = new[] { bed.TableA }, vdiff_interval = "off" }));
        Assert.True(status == 202, text);
        var id = created.GetProperty("id").GetString()!;
        var running = await bed.WaitStateAsync(wf, s => s.Phase is Phases.Running or Phases.Failed, "copied and replicating");
        Assert.True(running.Phase == Phases.Running, running.LastError);
        var client = bed.Host.Services.GetRequiredService<DurableTaskClient>();
        await client.TerminateInstanceAsync(id, new TerminateInstanceOptions("test: as the host's own terminate webhook"));
        using (var wait = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            Assert.Equal(OrchestrationRuntimeStatus.Terminated, (await client.WaitForInstanceCompletionAsync(id, wait.Token)).RuntimeStatus);
        }

        // The nightly purge, run as if 60 days had passed (retention 30 days): the workflow's instance stays.
        var app = new DurableApp(new ConfigurationBuilder().Build(), new ShiftedTime(TimeSpan.FromDays(60)));
        var context = new RunnerFunctionContext("PurgeHistory", "test-" + bed.Suffix, bed.Host.Services, CancellationToken.None);
        await app.PurgeHistory(new TimerInfo(), client, context);
        Assert.NotNull(await client.GetInstanceAsync(id));
        Assert.Equal(Phases.Running, (await bed.StateAsync(wf))!.Phase);
    }

    private sealed class ShiftedTime(TimeSpan by) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + by;
    }

    [Fact]
    public async Task Unknown_fields_are_refused_naming_them_and_the_valid_ones()
    {
        var wf = Wf("typo");
        var before = await bed.SnapshotAsync();
        var (status, body, text, _) = await SendAsync(HttpMethod.Post, Create(wf),
            JsonSerializer.Serialize(new { source_keyspace = "commerce", tables = new[] { bed.TableA }, tabel_types = "REPLICA" }));
        Assert.True(status == 400, text);
        var message = body.GetProperty("message").GetString()!;
        Assert.Contains("tabel_types", message);
        Assert.Contains("tablet_types", message);
        Assert.Contains("source_keyspace", message);

        // Nested objects too: a command's switch options.
        (status, body, text, _) = await SendAsync(HttpMethod.Post, $"/api/movetables/customer/{wf}/switchtraffic", """{"switch": {"timout_seconds": 30}}""");
        Assert.True(status == 400, text);
        Assert.Contains("switch.timout_seconds", body.GetProperty("message").GetString());
        Assert.Contains("timeout_seconds", body.GetProperty("message").GetString());

        // Migrate's create and the external source registration.
        (status, body, text, _) = await SendAsync(HttpMethod.Post, $"/api/migrate/customer/{wf}/create",
            JsonSerializer.Serialize(new { source_keyspace = "commerce", mount_name = "ext1", tables = new[] { bed.TableA }, tablets_types = "PRIMARY" }));
        Assert.True(status == 400, text);
        Assert.Contains("tablets_types", body.GetProperty("message").GetString());
        (status, body, text, _) = await SendAsync(HttpMethod.Post, "/api/externalsources",
            JsonSerializer.Serialize(new { name = "x" + bed.Suffix, type = "unmanaged", keyspace = "k", hostname = "127.0.0.1" }));
        Assert.True(status == 400, text);
        Assert.Contains("hostname", body.GetProperty("message").GetString());
        Assert.Equal(before, await bed.SnapshotAsync());
        Assert.Null(await bed.StateAsync(wf));
    }

    [Fact]
    public async Task Unknown_cells_are_refused_at_create_naming_the_known_cells()
    {
        var wf = Wf("cells");
        var before = await bed.SnapshotAsync();
        var (status, body, text, _) = await SendAsync(HttpMethod.Post, Create(wf),
            JsonSerializer.Serialize(new { source_keyspace = "commerce", tables = new[] { bed.TableA }, cells = new[] { "zone9" } }));
        Assert.True(status == 400, text);
        var message = body.GetProperty("message").GetString()!;
        Assert.Contains("zone9", message);
        Assert.Contains("zone1", message);
        Assert.Equal(before, await bed.SnapshotAsync());
        Assert.Null(await bed.StateAsync(wf));
        Assert.Equal(HttpStatusCode.NotFound, (HttpStatusCode)(await SendAsync(HttpMethod.Get, $"/api/movetables/customer/{wf}/state")).Status);
    }
}
