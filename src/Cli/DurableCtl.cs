using System.CommandLine;
using Durable.Cli.Commands;
using Durable.Cli.Infrastructure;

namespace Durable.Cli;

/// <summary>
/// durablectl: vtctldclient-style commands (PascalCase verbs, e.g. <c>durablectl GetInstance ID</c>) over the Durable
/// host's HTTP API. Command groups are listed in <see cref="Groups"/>; the topology (GetKeyspaces, ...), MoveTables
/// (<c>durablectl MoveTables --workflow W --target-keyspace K create ...</c>) and VDiff groups add themselves there.
/// </summary>
public static class DurableCtl
{
    public static IReadOnlyList<ICommandGroup> Groups { get; } = [new HostCommands(), new InstanceCommands(), new TopologyCommands(), new MoveTablesCommands(), new WorkflowCommands(), new VDiffCommands()];

    public static RootCommand BuildRoot(CliContext context, IEnumerable<ICommandGroup>? groups = null)
    {
        var root = new RootCommand("durablectl: move tables between keyspaces online (MoveTables, VDiff, Migrate) through the Durable HTTP API.\n" +
                                   $"The function key is read from ${DurableHostClient.KeyEnvironmentVariable}.");
        root.Options.Add(context.Server);
        root.Options.Add(context.Format);
        foreach (var group in groups ?? Groups)
        {
            group.AddTo(root, context);
        }

        return root;
    }

    public static Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, Func<string, string?> environment,
        Func<HttpMessageHandler>? handlerFactory = null, CancellationToken cancellationToken = default)
    {
        var context = new CliContext(output, error, environment, handlerFactory);
        var root = BuildRoot(context);
        var parse = root.Parse(args);
        return parse.InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, cancellationToken);
    }
}
