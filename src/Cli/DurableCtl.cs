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
    public static IReadOnlyList<ICommandGroup> Groups { get; } = [new HostCommands(), new InstanceCommands(), new TopologyCommands(), new MoveTablesCommands(), new MigrateCommands(), new WorkflowCommands(), new VDiffCommands()];

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
        string[] normalized;
        try
        {
            // The runbooks' vtctldclient/vtctlclient spellings become durablectl's before parsing (see VtctlArguments).
            normalized = VtctlArguments.Normalize(args, root);
        }
        catch (UsageException e)
        {
            context.WriteError(WantsJson(args) ? OutputFormat.Json : OutputFormat.Text, "usage", e.Message);
            return Task.FromResult(ExitCodes.Usage);
        }

        var parse = root.Parse(normalized);
        if (parse.Errors.Count > 0)
        {
            // System.CommandLine's own parse errors would exit 1, which a pipeline could not tell apart from "the host
            // refused the request": every bad usage exits 2 (ExitCodes.Usage) with the parser's message.
            var help = $"Run '{CommandPath(parse.CommandResult)} --help' for usage.";
            if (WantsJson(normalized))
            {
                context.WriteError(OutputFormat.Json, "usage", string.Join(" ", parse.Errors.Select(e => e.Message)) + " " + help);
                return Task.FromResult(ExitCodes.Usage);
            }

            foreach (var parseError in parse.Errors)
            {
                error.WriteLine($"durablectl: {parseError.Message}");
            }

            error.WriteLine(help);
            return Task.FromResult(ExitCodes.Usage);
        }

        return parse.InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, cancellationToken);
    }

    /// <summary>--format json anywhere on a command line that did not parse (its errors are then printed as JSON too).</summary>
    private static bool WantsJson(IReadOnlyList<string> args)
    {
        for (var i = 0; i < args.Count; i++)
        {
            var a = args[i].TrimStart('-');
            if (args[i].StartsWith('-') && (a.Equals("format=json", StringComparison.OrdinalIgnoreCase)
                                            || (a.Equals("format", StringComparison.Ordinal) && i + 1 < args.Count && args[i + 1].Equals("json", StringComparison.OrdinalIgnoreCase))))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The command line that reaches <paramref name="command"/>, e.g. <c>durablectl MoveTables create</c>.</summary>
    private static string CommandPath(System.CommandLine.Parsing.CommandResult command)
    {
        var names = new List<string>();
        for (System.CommandLine.Parsing.SymbolResult? r = command; r is not null; r = r.Parent)
        {
            if (r is System.CommandLine.Parsing.CommandResult { Parent: not null } c)
            {
                names.Insert(0, c.Command.Name);
            }
        }

        names.Insert(0, "durablectl");
        return string.Join(' ', names);
    }
}
