using System.CommandLine;
using Durable.Cli.Infrastructure;

namespace Durable.Cli.Commands;

/// <summary>The host itself: GetHostStatus (health) and GetMetrics (the Prometheus text of /metrics).</summary>
public sealed class HostCommands : ICommandGroup
{
    public void AddTo(RootCommand root, CliContext ctx)
    {
        var status = new Command("GetHostStatus", "Checks that the Durable host answers (its /api/health).");
        status.SetAction(ctx.Run(async (parse, client, format, ct) =>
        {
            var response = await client.GetAsync("api/health", ct).ConfigureAwait(false);
            return await ctx.ReportAsync(response, format, b => $"{client.Server.GetLeftPart(UriPartial.Authority)}: {TextRender.Fields(b)}", "GetHostStatus").ConfigureAwait(false);
        }));
        root.Subcommands.Add(status);

        var metrics = new Command("GetMetrics", "Prints the host's metrics in Prometheus text format.");
        metrics.SetAction(ctx.Run(async (parse, client, format, ct) =>
        {
            var response = await client.GetAsync("metrics", ct).ConfigureAwait(false);
            return await ctx.ReportAsync(response, OutputFormat.Text, null, "GetMetrics").ConfigureAwait(false);
        }));
        root.Subcommands.Add(metrics);
    }
}
