using System.Net;
using System.Text.Json;
using Durable.Cli;
using Durable.Cli.Infrastructure;

namespace Durable.Cli.Tests;

/// <summary>
/// The VDiff gate from the CLI, against a recording HTTP handler: <c>VDiff schedule --interval</c> sends the workflow's
/// VDiffSchedule; a held switch (409) exits non-zero printing the gate's reason; status shows the gate; a repair run's
/// text report says what it repaired.
/// </summary>
public sealed class VDiffGateCliTests
{
    private static async Task<(int Code, string Out, string Err, RecordingHandler Http)> Run(Func<HttpRequestMessage, string?, (HttpStatusCode, string)> answer, params string[] args)
    {
        var recorder = new RecordingHandler(answer);
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await DurableCtl.RunAsync(args, output, error,
            n => n == DurableHostClient.ServerEnvironmentVariable ? "http://vdiff-gate.test:7071" : null, () => recorder);
        return (code, output.ToString(), error.ToString(), recorder);
    }

    private static (HttpStatusCode, string) Accepted(HttpRequestMessage request, string? body) => request.Method == HttpMethod.Post
        ? (HttpStatusCode.Accepted, """{ "request_id": "r1" }""")
        : (HttpStatusCode.OK, """{ "commands": [ { "request_id": "r1", "action": "VDiffSchedule", "state": "done", "message": "VDiff re-runs every 30m" } ] }""");

    [Theory]
    [InlineData("30m")]
    [InlineData("off")]
    public async Task Schedule_sends_the_workflows_vdiff_interval(string interval)
    {
        var (code, output, error, http) = await Run(Accepted, "VDiff", "--workflow", "commerce2customer", "--target-keyspace", "customer", "schedule", "--interval", interval);
        Assert.True(code == ExitCodes.Ok, error);
        Assert.Contains("VDiff re-runs every 30m", output);
        var post = Assert.Single(http.Requests, r => r.Method == HttpMethod.Post);
        Assert.Equal("/api/movetables/customer/commerce2customer/vdiffschedule", post.Path);
        Assert.Equal(interval, JsonDocument.Parse(post.Body!).RootElement.GetProperty("vdiff_interval").GetString());
    }

    [Fact]
    public async Task Schedule_refuses_a_bad_interval_before_sending_anything()
    {
        var (code, _, error, http) = await Run(Accepted, "VDiff", "--workflow", "commerce2customer", "--target-keyspace", "customer", "schedule", "--interval", "sometimes");
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("'sometimes' is invalid", error);
        Assert.Empty(http.Requests);
    }

    [Fact]
    public async Task A_held_switch_fails_now_with_the_gates_reason()
    {
        const string reason = "SwitchTraffic is held by VDiff: VDiff 3f2a found differences: 0 mismatched, 5 extra on the source, 0 extra on the target. Released by ... --ignore-vdiff (audited).";
        var (code, output, error, http) = await Run((_, _) => (HttpStatusCode.Conflict, JsonSerializer.Serialize(new { error = "Conflict", message = reason })),
            "MoveTables", "--workflow", "commerce2customer", "--target-keyspace", "customer", "switchtraffic");
        Assert.NotEqual(ExitCodes.Ok, code);
        Assert.Contains("VDiff 3f2a found differences", output + error);
        Assert.DoesNotContain("has not answered", output + error);
        Assert.Single(http.Requests);
    }

    [Fact]
    public async Task Status_text_shows_the_vdiff_gate_and_what_releases_it()
    {
        const string status = """
            { "traffic_state": "Reads Not Switched. Writes Not Switched", "phase": "Running", "table_copy_state": {}, "shard_streams": {},
              "vdiff_gate": { "state": "held", "rule": "on differences", "uuid": "3f2a", "reason": "VDiff 3f2a found differences", "release": "Released by a newer VDiff ... or --ignore-vdiff (audited)." } }
            """;
        var (code, text, error, _) = await Run((_, _) => (HttpStatusCode.OK, status), "MoveTables", "--workflow", "commerce2customer", "--target-keyspace", "customer", "status");
        Assert.True(code == ExitCodes.Ok, error);
        Assert.Contains("VDiff gate: held (on differences): VDiff 3f2a found differences", text);
        Assert.Contains("--ignore-vdiff", text);
    }

    [Fact]
    public async Task A_repair_reports_text_says_what_it_repaired()
    {
        const string report = """
            { "Workflow": "commerce2customer", "Keyspace": "customer", "State": "completed", "UUID": "3f2a", "RowsCompared": 20, "HasMismatch": true, "Repaired": true, "Shards": "0",
              "TableSummary": { "customer": { "TableName": "customer", "State": "completed", "RowsCompared": 20, "MatchingRows": 15, "MismatchedRows": 0, "ExtraRowsSource": 5, "ExtraRowsTarget": 0,
                "RowsInserted": 5, "RowsUpdated": 0, "RowsDeleted": 0 } } }
            """;
        var (code, text, error, _) = await Run((_, _) => (HttpStatusCode.OK, report), "VDiff", "--workflow", "commerce2customer", "--target-keyspace", "customer", "show", "last");
        Assert.True(code == ExitCodes.Ok, error);
        Assert.Contains("Repaired:     true", text);
        Assert.Contains("Repaired:         5 inserted, 0 updated, 0 deleted on the target", text);
    }
}
