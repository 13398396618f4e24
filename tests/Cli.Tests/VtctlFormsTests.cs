using System.Net;
using System.Text.Json;
using Durable.Cli;
using Durable.Cli.Infrastructure;

namespace Durable.Cli.Tests;

/// <summary>
/// The command lines the seeds print, with durablectl in place of vtctldclient/vtctlclient, against a recording HTTP
/// handler: the request each one sends (path and body), and bad durations refused before anything is sent.
/// </summary>
public sealed class VtctlFormsTests
{
    // A command is accepted with a request id; the workflow's state then shows it done.
    private static (HttpStatusCode, string) Answer(HttpRequestMessage request, string? body) => request.Method == HttpMethod.Post
        ? (HttpStatusCode.Accepted, """{ "request_id": "r1", "id": "movetables:customer.wf", "text": "Dry Run results" }""")
        : (HttpStatusCode.OK, """{ "phase": "Running", "tables": ["t1", "t2"], "commands": [ { "request_id": "r1", "action": "X", "state": "done", "message": "done" } ] }""");

    private static async Task<(int Code, string Out, string Err, RecordingHandler Http, List<Uri> Uris)> Run(params string[] args)
    {
        var uris = new List<Uri>();
        var recorder = new RecordingHandler((r, b) =>
        {
            lock (uris)
            {
                uris.Add(r.RequestUri!);
            }

            return Answer(r, b);
        });
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await DurableCtl.RunAsync(args, output, error,
            n => n == DurableHostClient.ServerEnvironmentVariable ? "http://durable.test:7071" : null, () => recorder);
        return (code, output.ToString(), error.ToString(), recorder, uris);
    }

    private static JsonElement PostBody(RecordingHandler http, string path) =>
        JsonDocument.Parse(Assert.Single(http.Requests, r => r.Method == HttpMethod.Post && r.Path == path).Body!).RootElement;

    [Fact]
    public async Task Vtctlclient_create_with_the_separator_and_keyspace_dot_workflow_after_the_action()
    {
        // seeds 000:42
        var (code, _, error, http, _) = await Run("MoveTables", "--", "--source", "commerce", "--tables", "t1,t2", "Create", "customer.wf");
        Assert.True(code == ExitCodes.Ok, error);
        var body = PostBody(http, "/api/movetables/customer/wf/create");
        Assert.Equal("commerce", body.GetProperty("source_keyspace").GetString());
        Assert.Equal("t1,t2", string.Join(",", body.GetProperty("tables").EnumerateArray().Select(t => t.GetString())));
    }

    [Theory]
    [InlineData("SwitchTraffic", "switchtraffic")]
    [InlineData("switchtraffic", "switchtraffic")]
    [InlineData("ReverseTraffic", "reversetraffic")]
    [InlineData("REVERSETRAFFIC", "reversetraffic")]
    public async Task Vtctlclient_dry_run_switch_with_underscore_flags(string action, string path)
    {
        // seeds 000:201 and 000:249
        var (code, _, error, http, _) = await Run("MoveTables", "--", "--tablet_types=rdonly", "--dry_run", action, "customer.wf");
        Assert.True(code == ExitCodes.Ok, error);
        var body = PostBody(http, $"/api/movetables/customer/wf/{path}");
        Assert.True(body.GetProperty("dry_run").GetBoolean());
        Assert.Equal("rdonly", string.Join(",", body.GetProperty("switch").GetProperty("tablet_types").EnumerateArray().Select(t => t.GetString())));
    }

    [Theory]
    [InlineData("Complete", "complete")]
    [InlineData("Cancel", "cancel")]
    [InlineData("Start", "start")]
    [InlineData("Stop", "stop")]
    public async Task Vtctldclient_aliases_in_either_case_reach_the_action(string action, string path)
    {
        var (code, _, error, http, _) = await Run("MoveTables", "--target-keyspace", "customer", "--workflow", "wf", action);
        Assert.True(code == ExitCodes.Ok, error);
        Assert.Single(http.Requests, r => r.Method == HttpMethod.Post && r.Path == $"/api/movetables/customer/wf/{path}");
    }

    [Theory]
    [InlineData("Show", "show")]
    [InlineData("Status", "status")]
    [InlineData("Progress", "status")]
    public async Task Read_aliases_and_vtctlclients_progress(string action, string path)
    {
        // seeds 000:50 (Progress) and 004:241/266
        var (code, _, error, http, _) = await Run("MoveTables", "--", action, "customer.wf", "--format", "json");
        Assert.True(code == ExitCodes.Ok, error);
        Assert.Contains(http.Requests, r => r.Method == HttpMethod.Get && r.Path == $"/api/movetables/customer/wf/{path}");
    }

    [Fact]
    public async Task Go_durations_reach_the_switch_as_seconds()
    {
        var (code, _, error, http, _) = await Run("MoveTables", "--target-keyspace", "customer", "--workflow", "wf", "SwitchTraffic",
            "--timeout", "1m30s", "--max-replication-lag-allowed=500ms");
        Assert.True(code == ExitCodes.Ok, error);
        var body = PostBody(http, "/api/movetables/customer/wf/switchtraffic").GetProperty("switch");
        Assert.Equal(90, body.GetProperty("timeout_seconds").GetDouble());
        Assert.Equal(0.5, body.GetProperty("max_replication_lag_allowed_seconds").GetDouble());
    }

    [Fact]
    public async Task Plain_seconds_are_still_accepted()
    {
        var (code, _, error, http, _) = await Run("MoveTables", "--target-keyspace", "customer", "--workflow", "wf", "switchtraffic", "--timeout", "45");
        Assert.True(code == ExitCodes.Ok, error);
        Assert.Equal(45, PostBody(http, "/api/movetables/customer/wf/switchtraffic").GetProperty("switch").GetProperty("timeout_seconds").GetDouble());
    }

    [Theory]
    [InlineData("--timeout", "30x")]
    [InlineData("--max-replication-lag-allowed", "ten seconds")]
    [InlineData("--timeout", "-5s")]
    public async Task A_bad_duration_is_refused_naming_it_and_a_valid_example(string flag, string value)
    {
        var (code, _, error, http, _) = await Run("MoveTables", "--target-keyspace", "customer", "--workflow", "wf", "switchtraffic", flag, value);
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains($"'{value}'", error);
        Assert.Contains("30s", error);
        Assert.Empty(http.Requests);
    }

    [Fact]
    public async Task Workflow_listall_and_keyspace_dot_workflow_forms()
    {
        // seeds 000:48, 000:55, 000:129, 000:144, 000:145
        var (code, _, error, http, _) = await Run("Workflow", "--", "customer", "listall");
        Assert.True(code == ExitCodes.Ok, error);
        Assert.Single(http.Requests, r => r.Path == "/api/workflows/customer");

        (code, _, error, http, _) = await Run("Workflow", "--", "customer.wf", "show");
        Assert.True(code == ExitCodes.Ok, error);
        Assert.Single(http.Requests, r => r.Path == "/api/workflows/customer/wf");

        foreach (var (verb, action) in new[] { ("start", "start"), ("stop", "stop"), ("delete", "cancel") })
        {
            (code, _, error, http, _) = await Run("Workflow", "--", "customer.wf", verb);
            Assert.True(code == ExitCodes.Ok, verb + ": " + error);
            Assert.Single(http.Requests, r => r.Method == HttpMethod.Post && r.Path == $"/api/movetables/customer/wf/{action}");
        }
    }

    [Theory]
    [InlineData("--server", "vtctld.host:15999", "http://vtctld.host:15999/")]
    [InlineData("-server", "localhost:15999", "http://localhost:15999/")]
    [InlineData("--server", "https://durable.example:8443", "https://durable.example:8443/")]
    public async Task Server_takes_a_url_or_host_and_port(string flag, string value, string expected)
    {
        var (code, _, error, _, uris) = await Run(flag, value, "GetRoutingRules");
        Assert.True(code == ExitCodes.Ok, error);
        Assert.StartsWith(expected, Assert.Single(uris).ToString());
    }

    [Fact]
    public async Task Single_dash_and_separator_forms_of_apply_routing_rules()
    {
        // seeds 000:161 and 000:168 (with the file's contents in place of the seeds' "($cat file)")
        const string rules = """{"rules":[{"from_table":"t1","to_tables":["customer.t1"]}]}""";
        var (code, _, error, http, _) = await Run("ApplyRoutingRules", "--", "--rules=" + rules, "--dry-run");
        Assert.True(code == ExitCodes.Ok, error);
        Assert.Single(http.Requests, r => r.Method == HttpMethod.Post && r.Path.EndsWith("/routingrules?dry_run=true", StringComparison.Ordinal));

        (code, _, error, http, _) = await Run("-server", "localhost:15999", "ApplyRoutingRules", "-rules=" + rules);
        Assert.True(code == ExitCodes.Ok, error);
        Assert.Single(http.Requests, r => r.Method == HttpMethod.Post && r.Path.EndsWith("/routingrules", StringComparison.Ordinal));
    }

    [Fact]
    public async Task VDiff_show_with_an_uppercase_action()
    {
        var (code, _, error, http, _) = await Run("VDiff", "--format=json", "--target-keyspace", "customer", "--workflow", "wf", "Show", "last", "--verbose");
        Assert.True(code is ExitCodes.Ok or ExitCodes.Failed, error);
        Assert.Single(http.Requests, r => r.Path == "/api/vdiff/customer/wf/show/last?verbose=true");
    }
}
