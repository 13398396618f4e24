using System.Net;
using Durable.Cli;
using Durable.Cli.Infrastructure;

namespace Durable.Cli.Tests;

/// <summary>
/// <c>show</c> and <c>status</c> as an operator with the seeds meets them (issue 19, point 5): <c>--include-logs=false</c>
/// reaches the host for <c>MoveTables show</c> and <c>Workflow show</c>, and the text status says Error, names the
/// stream and says the lag is unknown rather than printing a number, even when the host's phase still says Running.
/// </summary>
public sealed class WorkflowOutputTests
{
    private const string ErrorStatus = """
        {
          "table_copy_state": {},
          "shard_streams": { "customer/0": { "streams": [
            { "id": 7, "tablet": { "cell": "zone1", "uid": 200 }, "source_shard": "commerce/0", "position": "", "status": "Error", "info": "Duplicate entry 7 for key PRIMARY" },
            { "id": 8, "tablet": { "cell": "zone1", "uid": 200 }, "source_shard": "commerce/1", "position": "", "status": "Running", "info": "VStream Lag: unknown (nothing applied yet)" } ] } },
          "traffic_state": "Reads Not Switched. Writes Not Switched",
          "phase": "Running",
          "eta_seconds": null,
          "lag_seconds": null,
          "last_error": null
        }
        """;

    private static async Task<(int Code, string Out, string Err, RecordingHandler Http)> Run(string answer, params string[] args)
    {
        var recorder = new RecordingHandler((_, _) => (HttpStatusCode.OK, answer));
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await DurableCtl.RunAsync(args, output, error,
            n => n == DurableHostClient.ServerEnvironmentVariable ? "http://movetables.test:7071" : null, () => recorder);
        return (code, output.ToString(), error.ToString(), recorder);
    }

    [Theory]
    [InlineData("--include-logs=false", "?include_logs=false")]
    [InlineData("--include-logs=true", "")]
    public async Task MoveTables_show_sends_include_logs(string flag, string query)
    {
        var (code, _, error, http) = await Run("""{ "workflows": [] }""", "MoveTables", "--workflow", "commerce2customer", "--target-keyspace", "customer", "show", flag);
        Assert.True(code == ExitCodes.Ok, error);
        Assert.Equal("/api/movetables/customer/commerce2customer/show" + query, Assert.Single(http.Requests).Path);
    }

    [Fact]
    public async Task Workflow_show_takes_include_logs_as_vtctldclient_does()
    {
        var (code, _, error, http) = await Run("""{ "workflows": [] }""", "Workflow", "--keyspace", "commerce", "show", "--workflow", "commerce2customer_reverse", "--include-logs=false");
        Assert.True(code == ExitCodes.Ok, error);
        Assert.Equal("/api/workflows/commerce/commerce2customer_reverse?include_logs=false", Assert.Single(http.Requests).Path);
    }

    [Fact]
    public async Task Text_status_says_error_names_the_stream_and_an_unknown_lag_is_unknown()
    {
        var (code, output, error, _) = await Run(ErrorStatus, "MoveTables", "--workflow", "commerce2customer", "--target-keyspace", "customer", "status", "--format", "text");
        Assert.True(code == ExitCodes.Ok, error);
        Assert.Contains("Phase: Error", output);
        Assert.DoesNotContain("Phase: Running", output);
        Assert.Contains("stream 7 from commerce/0: Error Duplicate entry 7 for key PRIMARY", output);
        Assert.Contains("Lag: unknown", output);
    }
}
