using System.Net;
using System.Text;
using System.Text.Json;
using Durable.Cli;
using Durable.Cli.Infrastructure;

namespace Durable.Cli.Tests;

/// <summary>
/// The MoveTables flags that reach the VDiff gate: <c>create --vdiff-interval</c> and <c>switchtraffic|complete
/// --ignore-vdiff REASON</c>, against a recording HTTP handler: what is sent, and bad input refused before anything is.
/// </summary>
public sealed class MoveTablesVDiffFlagsTests
{
    // A command is accepted with a request id; the workflow's state then shows it done.
    private static (HttpStatusCode, string) Accepted(HttpRequestMessage request, string? body) => request.Method == HttpMethod.Post
        ? (HttpStatusCode.Accepted, """{ "request_id": "r1" }""")
        : (HttpStatusCode.OK, """{ "commands": [ { "request_id": "r1", "action": "SwitchTraffic", "state": "done", "message": "SwitchTraffic was successful" } ] }""");

    private static Task<(int Code, string Out, string Err, RecordingHandler Http)> Run(params string[] args) => MoveTablesCliRun.RunAsync(Accepted, args);

    [Theory]
    [InlineData("switchtraffic")]
    [InlineData("complete")]
    public async Task Ignore_vdiff_sends_the_override_with_its_reason(string action)
    {
        var (code, output, error, http) = await Run(action, "--ignore-vdiff", "only updated_at differs");
        Assert.True(code == ExitCodes.Ok, error);
        Assert.Contains("SwitchTraffic was successful", output);
        var post = Assert.Single(http.Requests, r => r.Method == HttpMethod.Post);
        Assert.Equal($"/api/movetables/customer/commerce2customer/{action}", post.Path);
        var body = JsonDocument.Parse(post.Body!).RootElement;
        Assert.True(body.GetProperty("ignore_vdiff").GetBoolean());
        Assert.Equal("only updated_at differs", body.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Without_the_flag_no_override_is_sent()
    {
        var (code, _, error, http) = await Run("switchtraffic");
        Assert.True(code == ExitCodes.Ok, error);
        var body = JsonDocument.Parse(Assert.Single(http.Requests, r => r.Method == HttpMethod.Post).Body!).RootElement;
        Assert.False(body.TryGetProperty("ignore_vdiff", out _));
    }

    [Fact]
    public async Task Ignore_vdiff_without_a_reason_is_refused_and_nothing_is_sent()
    {
        var (code, _, error, http) = await Run("switchtraffic", "--ignore-vdiff", " ");
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("--ignore-vdiff needs the reason", error);
        Assert.Empty(http.Requests);
    }

    [Fact]
    public async Task A_bad_vdiff_interval_is_refused_at_create_naming_the_value()
    {
        var (code, _, error, http) = await Run("create", "--source-keyspace", "commerce", "--tables", "customer", "--vdiff-interval", "soon");
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("--vdiff-interval 'soon' is invalid", error);
        Assert.Empty(http.Requests);
    }

    [Fact]
    public async Task Create_sends_the_vdiff_interval()
    {
        var (_, _, _, http) = await Run("create", "--source-keyspace", "commerce", "--tables", "customer", "--vdiff-interval", "30m");
        var post = Assert.Single(http.Requests, r => r.Method == HttpMethod.Post);
        Assert.Equal("30m", JsonDocument.Parse(post.Body!).RootElement.GetProperty("vdiff_interval").GetString());
    }
}
