using System.Net;
using System.Text.Json;
using Durable.Cli;
using Durable.Cli.Infrastructure;

namespace Durable.Cli.Tests;

/// <summary>
/// <c>--dry-run</c> of switchtraffic, reversetraffic, complete and cancel is the host's: the CLI sends the command with
/// <c>dry_run</c> and prints what the host answers, and a dry run the host refuses (the command would be refused)
/// prints the steps up to the refusal and exits non-zero, as the command would. Against a recording HTTP handler.
/// </summary>
public sealed class DryRunCommandsTests
{
    private const string Steps = "Dry Run results for Cancel run at 06 Dec 26 23:40 UTC\n\nLock keyspace commerce\nLock keyspace customer\nDelete the streams of workflow commerce2customer in keyspace customer";

    private static Task<(int Code, string Out, string Err, RecordingHandler Http)> Run(HttpStatusCode status, object answer, params string[] args) =>
        MoveTablesCliRun.RunAsync((_, _) => (status, JsonSerializer.Serialize(answer)), args);

    [Theory]
    [InlineData("complete")]
    [InlineData("cancel")]
    [InlineData("switchtraffic")]
    [InlineData("reversetraffic")]
    public async Task The_dry_run_is_asked_of_the_host_and_its_steps_printed(string action)
    {
        var (code, output, error, http) = await Run(HttpStatusCode.OK, new { dry_run = true, text = Steps, steps = Array.Empty<string>() }, action, "--dry-run");
        Assert.True(code == ExitCodes.Ok, error);
        Assert.Equal(Steps, output.TrimEnd());
        var post = Assert.Single(http.Requests);
        Assert.Equal(HttpMethod.Post, post.Method);
        Assert.Equal($"/api/movetables/customer/commerce2customer/{action}", post.Path);
        Assert.True(JsonDocument.Parse(post.Body!).RootElement.GetProperty("dry_run").GetBoolean());
    }

    [Fact]
    public async Task A_dry_run_the_host_refuses_prints_the_steps_and_the_reason_and_exits_non_zero()
    {
        var refused = new { error = "Conflict", message = "Cancel would be refused: Cannot cancel customer.commerce2customer: writes are switched", dry_run = true, text = Steps };
        var (code, output, error, _) = await Run(HttpStatusCode.Conflict, refused, "cancel", "--dry-run");
        Assert.Equal(ExitCodes.Failed, code);
        Assert.Contains("Lock keyspace commerce", output);
        Assert.Contains("Cancel would be refused: Cannot cancel", error);
    }

    [Fact]
    public async Task Cleanup_flags_travel_with_the_dry_run()
    {
        var (code, _, error, http) = await Run(HttpStatusCode.OK, new { dry_run = true, text = Steps }, "complete", "--dry-run", "--keep-data", "--keep-routing-rules");
        Assert.True(code == ExitCodes.Ok, error);
        var cleanup = JsonDocument.Parse(Assert.Single(http.Requests).Body!).RootElement.GetProperty("cleanup");
        Assert.True(cleanup.GetProperty("keep_data").GetBoolean());
        Assert.True(cleanup.GetProperty("keep_routing_rules").GetBoolean());
    }
}
