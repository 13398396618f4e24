using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Durable.Cli;
using Durable.Cli.Infrastructure;
using Durable.Contracts;

namespace Durable.Cli.Tests;

/// <summary>
/// <c>durablectl MoveTables … approve</c> against a recording HTTP handler: it signs the documented payload
/// (docs/approvals.md) for the workflow's current traffic generation, or the one given, and sends the payload itself.
/// </summary>
public sealed class MoveTablesApproveTests
{
    private static readonly byte[] Key = Enumerable.Range(9, 32).Select(i => (byte)i).ToArray();

    private static (HttpStatusCode, string) Workflow(HttpRequestMessage request, string? body) => request.Method == HttpMethod.Post
        ? (HttpStatusCode.Accepted, """{ "request_id": "r1" }""")
        : (HttpStatusCode.OK, """
            { "traffic_generation": 3, "pending_approval": { "action": "Complete", "generation": 3 },
              "commands": [ { "request_id": "r1", "action": "Approve", "state": "accepted", "message": "Complete approved by alice for traffic generation 3" } ] }
            """);

    private static async Task<(int Code, string Out, string Err, RecordingHandler Http)> Run(params string[] args)
    {
        var recorder = new RecordingHandler(Workflow);
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await DurableCtl.RunAsync(["MoveTables", "--workflow", "commerce2customer", "--target-keyspace", "customer", "approve", .. args], output, error,
            n => n switch
            {
                DurableHostClient.ServerEnvironmentVariable => "http://movetables.test:7071",
                "DURABLE_APPROVER_KEY" => Convert.ToBase64String(Key),
                _ => null,
            }, () => recorder);
        return (code, output.ToString(), error.ToString(), recorder);
    }

    private static SignedApproval Sent(RecordingHandler http)
    {
        var post = Assert.Single(http.Requests, r => r.Method == HttpMethod.Post);
        Assert.Equal("/api/movetables/customer/commerce2customer/approve", post.Path);
        return SignedApproval.Parse(post.Body!);
    }

    [Fact]
    public async Task Approve_signs_the_current_generation_and_sends_the_payload_itself()
    {
        var (code, output, error, http) = await Run("--action", "complete", "--approver", "alice");
        Assert.True(code == ExitCodes.Ok, error);
        Assert.Contains("approved by alice for traffic generation 3", output);
        var a = Sent(http);
        Assert.Equal(("movetables:customer.commerce2customer", "Complete", 3L, "alice"), (a.InstanceId, a.Action, a.Generation, a.Approver));
        Assert.Equal(Convert.ToHexStringLower(HMACSHA256.HashData(Key, Encoding.UTF8.GetBytes(a.Canonical()))), a.Signature);
        Assert.InRange(a.ExpiresAt - DateTimeOffset.UtcNow.ToUnixTimeSeconds(), 590, 610);
    }

    [Fact]
    public async Task An_explicit_generation_is_signed_as_given()
    {
        var (code, _, error, http) = await Run("--action", "SwitchTraffic", "--approver", "alice", "--generation", "5");
        Assert.True(code == ExitCodes.Ok, error);
        Assert.Equal(5, Sent(http).Generation);
    }
}
