using System.Net;
using System.Text;
using System.Text.Json;
using Durable.Cli;
using Durable.Cli.Infrastructure;

namespace Durable.Cli.Tests;

/// <summary>durablectl VDiff against a recording HTTP handler: the requests it sends, its text/JSON output and its usage errors.</summary>
public sealed class VDiffCommandsTests
{
    private const string Uuid = "bc74b91b-2ee8-4869-bc39-4740ce445e20";

    private static string Report(string state, bool mismatch, long mismatched = 0) => $$"""
        { "Workflow": "commerce2customer", "Keyspace": "customer", "State": "{{state}}", "UUID": "{{Uuid}}", "RowsCompared": 10,
          "HasMismatch": {{(mismatch ? "true" : "false")}}, "Shards": "0", "StartedAt": "2026-01-04 18:44:26", "CompletedAt": "2026-01-04 18:44:27",
          "TableSummary": {
            "corder": { "TableName": "corder", "State": "completed", "RowsCompared": 5, "MatchingRows": {{5 - mismatched}}, "MismatchedRows": {{mismatched}}, "ExtraRowsSource": 0, "ExtraRowsTarget": 0 },
            "customer": { "TableName": "customer", "State": "completed", "RowsCompared": 5, "MatchingRows": 5, "MismatchedRows": 0, "ExtraRowsSource": 0, "ExtraRowsTarget": 0 } } }
        """;

    private static async Task<(int Code, string Out, string Err, RecordingHandler Http)> Run(Func<HttpRequestMessage, string?, (HttpStatusCode, string)> answer, params string[] args)
    {
        var recorder = new RecordingHandler(answer);
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await DurableCtl.RunAsync(["VDiff", "--workflow", "commerce2customer", "--target-keyspace", "customer", .. args], output, error,
            n => n == DurableHostClient.ServerEnvironmentVariable ? "http://vdiff.test:7071" : null, () => recorder);
        return (code, output.ToString(), error.ToString(), recorder);
    }

    [Fact]
    public async Task Create_sends_the_seeds_options_and_prints_the_scheduled_message()
    {
        var (code, output, error, http) = await Run((_, _) => (HttpStatusCode.Accepted, $$"""{ "UUID": "{{Uuid}}", "Shards": "0" }"""),
            "create", "--tablet-types", "RDONLY,REPLICA", "--source-time-zone", "US/Pacific", "--only-pks", "--max-extra-rows-to-compare", "50",
            "--update-table-stats", "--auto-retry=false", "--max-diff-duration", "1h30m", "--row-level", "--repair", "--tables", "customer,corder");
        Assert.True(code == 0, error);
        Assert.Equal($"VDiff {Uuid} scheduled on target shards, use show to view progress", output.Trim());
        var (method, path, body) = Assert.Single(http.Requests);
        Assert.Equal(HttpMethod.Post, method);
        Assert.Equal("/api/vdiff/customer/commerce2customer/create", path);
        var json = JsonDocument.Parse(body!).RootElement;
        Assert.Equal("RDONLY,REPLICA", json.GetProperty("tablet_types").GetString());
        Assert.Equal("US/Pacific", json.GetProperty("source_time_zone").GetString());
        Assert.True(json.GetProperty("only_pks").GetBoolean());
        Assert.Equal(50, json.GetProperty("max_extra_rows_to_compare").GetInt32());
        Assert.True(json.GetProperty("update_table_stats").GetBoolean());
        Assert.False(json.GetProperty("auto_retry").GetBoolean());
        Assert.Equal("1h30m", json.GetProperty("max_diff_duration").GetString());
        Assert.True(json.GetProperty("row_level").GetBoolean());
        Assert.True(json.GetProperty("repair").GetBoolean());
        Assert.Equal(["customer", "corder"], json.GetProperty("tables").EnumerateArray().Select(t => t.GetString()!).ToArray());
    }

    [Theory]
    [InlineData("--max-diff-duration", "ten minutes", "--max-diff-duration 'ten minutes' is invalid")]
    [InlineData("--tablet-types", "PRIMARY,MASTERX", "'MASTERX'")]
    [InlineData("--tables", "cust;DROP TABLE x", "--tables entry 'cust;DROP TABLE x' is invalid")]
    [InlineData("--chunk-rows", "0", "--chunk-rows 0 is invalid")]
    [InlineData("--uuid", "not-a-uuid", "uuid 'not-a-uuid' is invalid")]
    public async Task Create_refuses_bad_input_before_sending_anything(string flag, string value, string message)
    {
        var (code, _, error, http) = await Run((_, _) => (HttpStatusCode.Accepted, "{}"), "create", flag, value);
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains(message, error);
        Assert.Empty(http.Requests);
    }

    [Fact]
    public async Task Show_last_prints_the_vtctldclient_summary_and_json_is_the_report_as_is()
    {
        var (code, output, _, http) = await Run((_, _) => (HttpStatusCode.OK, Report("completed", false)), "show", "last");
        Assert.Equal(0, code);
        Assert.Equal("/api/vdiff/customer/commerce2customer/show/last", http.Requests.Single().Path);
        Assert.Contains("VDiff Summary for customer.commerce2customer (" + Uuid + ")", output);
        Assert.Contains("State:        completed", output);
        Assert.Contains("RowsCompared: 10", output);
        Assert.Contains("HasMismatch:  false", output);
        Assert.DoesNotContain("Table corder", output);

        var (_, json, _, http2) = await Run((_, _) => (HttpStatusCode.OK, Report("completed", true, 2)), "show", Uuid, "--verbose", "--format", "json");
        Assert.Equal($"/api/vdiff/customer/commerce2customer/show/{Uuid}?verbose=true", http2.Requests.Single().Path);
        var report = JsonDocument.Parse(json).RootElement;
        Assert.True(report.GetProperty("HasMismatch").GetBoolean());
        Assert.Equal(2, report.GetProperty("TableSummary").GetProperty("corder").GetProperty("MismatchedRows").GetInt64());
    }

    [Fact]
    public async Task Show_of_a_mismatch_lists_the_differing_tables_in_text()
    {
        var (code, output, _, _) = await Run((_, _) => (HttpStatusCode.OK, Report("completed", true, 2)), "show", "last");
        Assert.Equal(0, code);
        Assert.Contains("HasMismatch:  true", output);
        Assert.Contains("Table corder:", output);
        Assert.Contains("MismatchedRows:   2", output);
        Assert.DoesNotContain("Table customer:", output);
    }

    [Fact]
    public async Task Show_all_prints_one_line_per_vdiff()
    {
        var (code, output, _, _) = await Run((_, _) => (HttpStatusCode.OK, "[" + Report("completed", false) + "," + Report("started", false).Replace(Uuid, "0e0e0e0e-0000-4000-8000-000000000001") + "]"), "show", "all");
        Assert.Equal(0, code);
        var lines = output.Trim().Split('\n');
        Assert.Equal(3, lines.Length);
        Assert.StartsWith(Uuid, lines[1]);
        Assert.Contains("completed", lines[1]);
        Assert.Contains("started", lines[2]);
    }

    [Fact]
    public async Task Stop_resume_and_delete_hit_their_endpoints_and_a_bad_selector_is_refused()
    {
        var (code, output, _, http) = await Run((_, _) => (HttpStatusCode.OK, """{ "Status": "stopped" }"""), "stop", Uuid);
        Assert.Equal(0, code);
        Assert.Equal((HttpMethod.Post, $"/api/vdiff/customer/commerce2customer/stop/{Uuid}"), (http.Requests.Single().Method, http.Requests.Single().Path));
        Assert.Equal($"VDiff {Uuid} stopped", output.Trim());

        (code, _, _, http) = await Run((_, _) => (HttpStatusCode.Accepted, """{ "Status": "resumed" }"""), "resume", Uuid);
        Assert.Equal(0, code);
        Assert.EndsWith($"/resume/{Uuid}", http.Requests.Single().Path);

        (code, output, _, http) = await Run((_, _) => (HttpStatusCode.OK, """{ "Status": "completed", "Deleted": 2 }"""), "delete", "all");
        Assert.Equal(0, code);
        Assert.Equal(HttpMethod.Delete, http.Requests.Single().Method);
        Assert.Contains("deleted (2 shard result(s))", output);

        string error;
        (code, _, error, http) = await Run((_, _) => (HttpStatusCode.OK, "{}"), "stop", "all");
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("VDiff stop 'all' is invalid", error);
        Assert.Empty(http.Requests);
    }

    [Fact]
    public async Task A_host_error_is_reported_with_its_message_and_exit_code()
    {
        var (code, _, error, _) = await Run((_, _) => (HttpStatusCode.NotFound, """{ "error": "Not Found", "message": "Workflow 'nope' has no stream on customer/0; check --workflow and --target-keyspace." }"""), "show", "last");
        Assert.Equal(ExitCodes.NotFound, code);
        Assert.Contains("VDiff show failed: 404", error);
        Assert.Contains("Workflow 'nope' has no stream", error);
    }

    [Fact]
    public async Task Create_with_wait_polls_until_the_vdiff_finishes_and_prints_the_result()
    {
        var shows = 0;
        var (code, output, error, http) = await Run((req, _) =>
        {
            if (req.Method == HttpMethod.Post)
            {
                return (HttpStatusCode.Accepted, $$"""{ "UUID": "{{Uuid}}" }""");
            }

            return (HttpStatusCode.OK, Interlocked.Increment(ref shows) < 3 ? Report("started", false) : Report("completed", false));
        }, "create", "--wait", "--wait-update-interval", "100ms");
        Assert.True(code == 0, error);
        Assert.True(shows >= 3);
        Assert.Contains("waiting for it to finish", output);
        Assert.Contains("State:        completed", output);
        Assert.All(http.Requests.Skip(1), r => Assert.Equal($"/api/vdiff/customer/commerce2customer/show/{Uuid}", r.Path));
    }
}
