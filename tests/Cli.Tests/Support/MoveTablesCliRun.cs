using System.Net;
using Durable.Cli;
using Durable.Cli.Infrastructure;

namespace Durable.Cli.Tests;

/// <summary>Runs <c>durablectl MoveTables --workflow commerce2customer --target-keyspace customer ARGS</c> against a recording HTTP handler.</summary>
internal static class MoveTablesCliRun
{
    public static async Task<(int Code, string Out, string Err, RecordingHandler Http)> RunAsync(
        Func<HttpRequestMessage, string?, (HttpStatusCode Status, string Json)> answer, params string[] args)
    {
        var recorder = new RecordingHandler(answer);
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await DurableCtl.RunAsync(["MoveTables", "--workflow", "commerce2customer", "--target-keyspace", "customer", .. args], output, error,
            n => n == DurableHostClient.ServerEnvironmentVariable ? "http://movetables.test:7071" : null, () => recorder);
        return (code, output.ToString(), error.ToString(), recorder);
    }
}
