using System.Net;
using System.Text.Json;
using Durable.Cli;
using Durable.Cli.Infrastructure;

namespace Durable.Cli.Tests;

/// <summary>
/// Output as vtctldclient prints it, against a recording HTTP handler: errors as JSON under --format json, JSON without
/// escaped backticks, "already exists" on a repeated create, and the body Migrate create sends.
/// </summary>
public sealed class CliOutputTests
{
    private static async Task<(int Code, string Out, string Err, RecordingHandler Http)> Run(Func<HttpRequestMessage, string?, (HttpStatusCode, string)> answer, params string[] args)
    {
        var recorder = new RecordingHandler(answer);
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await DurableCtl.RunAsync(args, output, error,
            n => n == DurableHostClient.ServerEnvironmentVariable ? "http://durable.test:7071" : null, () => recorder);
        return (code, output.ToString(), error.ToString(), recorder);
    }

    [Fact]
    public async Task A_refusal_is_printed_as_json_under_format_json()
    {
        var (code, _, error, _) = await Run((_, _) => (HttpStatusCode.Conflict, """{ "message": "Workflow wf is not running" }"""),
            "--format", "json", "MoveTables", "--target-keyspace", "customer", "--workflow", "wf", "show");
        Assert.Equal(ExitCodes.Failed, code);
        var e = JsonDocument.Parse(error).RootElement;
        Assert.Equal("Workflow wf is not running", e.GetProperty("message").GetString());
        Assert.Contains("409", e.GetProperty("error").GetString());
    }

    [Fact]
    public async Task A_usage_error_is_printed_as_json_under_format_json()
    {
        var (code, _, error, http) = await Run((_, _) => (HttpStatusCode.OK, "{}"),
            "MoveTables", "--target-keyspace", "customer", "--workflow", "wf", "switchtraffic", "--ignore-vdiff", " ", "--format=json");
        Assert.Equal(ExitCodes.Usage, code);
        var e = JsonDocument.Parse(error).RootElement;
        Assert.Equal("usage", e.GetProperty("error").GetString());
        Assert.Contains("--ignore-vdiff needs the reason", e.GetProperty("message").GetString());
        Assert.Empty(http.Requests);
    }

    [Fact]
    public async Task A_parse_error_is_printed_as_json_under_format_json()
    {
        var (code, _, error, _) = await Run((_, _) => (HttpStatusCode.OK, "{}"), "--format", "json", "MoveTables", "--target-keyspace", "customer", "--workflow", "wf", "nosuchaction");
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Equal("usage", JsonDocument.Parse(error).RootElement.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Json_output_keeps_backticks_as_they_are()
    {
        var (code, output, error, _) = await Run((_, _) => (HttpStatusCode.OK, """{ "message": "table `customer` is copied", "rules": "a<b>&'c'" }"""),
            "MoveTables", "--target-keyspace", "customer", "--workflow", "wf", "show");
        Assert.True(code == ExitCodes.Ok, error);
        Assert.Contains("table `customer` is copied", output);
        Assert.DoesNotContain("\\u0060", output);
        Assert.Contains("a<b>&'c'", output);
    }

    [Fact]
    public async Task A_repeated_create_says_it_already_exists()
    {
        // The host answers an identical repeat with "existing": true (MoveTablesFunctions.Accepted).
        var (code, output, error, _) = await Run((r, _) => r.Method == HttpMethod.Post
                ? (HttpStatusCode.Accepted, """{ "id": "movetables:customer.wf", "existing": true }""")
                : (HttpStatusCode.OK, """{ "phase": "Running", "tables": ["t1"] }"""),
            "MoveTables", "--target-keyspace", "customer", "--workflow", "wf", "create", "--source-keyspace", "commerce", "--tables", "t1");
        Assert.True(code == ExitCodes.Ok, error);
        Assert.Contains("already exists", output);
        Assert.DoesNotContain("was created", output);
    }

    [Fact]
    public async Task A_first_create_says_it_was_created()
    {
        var (code, output, error, _) = await Run((r, _) => r.Method == HttpMethod.Post
                ? (HttpStatusCode.Accepted, """{ "id": "movetables:customer.wf", "existing": false }""")
                : (HttpStatusCode.OK, """{ "phase": "Running", "tables": ["t1"] }"""),
            "MoveTables", "--target-keyspace", "customer", "--workflow", "wf", "create", "--source-keyspace", "commerce", "--tables", "t1");
        Assert.True(code == ExitCodes.Ok, error);
        Assert.Contains("was created", output);
    }

    [Fact]
    public async Task Migrate_create_sends_no_option_that_migrate_refuses()
    {
        var (code, _, error, http) = await Run((r, _) => r.Method == HttpMethod.Post
                ? (HttpStatusCode.Accepted, """{ "id": "migrate:customer.wf", "existing": false }""")
                : (HttpStatusCode.OK, """{ "phase": "Running", "tables": ["t1"] }"""),
            "Migrate", "--target-keyspace", "customer", "--workflow", "wf", "create", "--source-keyspace", "commerce", "--mount-name", "ext1", "--all-tables",
            "--tablet-types", "REPLICA", "--on-ddl", "STOP", "--defer-secondary-keys", "--source-time-zone", "US/Pacific");
        Assert.True(code == ExitCodes.Ok, error);
        var body = JsonDocument.Parse(Assert.Single(http.Requests, r => r.Method == HttpMethod.Post).Body!).RootElement;
        Assert.Equal("/api/migrate/customer/wf/create", Assert.Single(http.Requests, r => r.Method == HttpMethod.Post).Path);
        foreach (var refused in new[] { "no_routing_rules", "cutover_hooks", "enable_reverse_replication" })
        {
            Assert.False(body.TryGetProperty(refused, out _), refused + " was sent: " + body);
        }

        Assert.Equal("ext1", body.GetProperty("mount_name").GetString());
        Assert.Equal("US/Pacific", body.GetProperty("source_time_zone").GetString());
    }
}
