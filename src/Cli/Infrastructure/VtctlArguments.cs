using System.CommandLine;
using System.Globalization;
using System.Text.RegularExpressions;
using Durable.Contracts;

namespace Durable.Cli.Infrastructure;

/// <summary>
/// Rewrites the command lines of the Vitess runbooks (the seeds print vtctldclient's and the older vtctlclient's forms)
/// into durablectl's own before System.CommandLine parses them, so a runbook runs with durablectl in place of either
/// client. Each rule below names the seed form it exists for; Runbooks/seed-commands.txt in the CLI tests holds every
/// such line and is replayed against a real host.
/// </summary>
public static partial class VtctlArguments
{
    /// <summary>The command groups whose actions vtctlclient spells with a positional <c>keyspace.workflow</c>.</summary>
    private static readonly string[] WorkflowGroups = ["MoveTables", "Migrate", "VDiff", "Workflow"];

    /// <summary>vtctlclient spellings of durablectl's actions (the rest differ only in case, which is handled apart).</summary>
    private static readonly Dictionary<string, string> ActionAliases = new(StringComparer.OrdinalIgnoreCase)
    {
        // seeds 000:48 "Workflow -- targetkeyspace listall": vtctlclient's list of a keyspace's workflows.
        ["listall"] = "list",
        // seeds 000:50 "MoveTables -- Progress targetkeyspace.workflowname": vtctlclient's name for status.
        ["progress"] = "status",
    };

    /// <summary>vtctlclient flag names that vtctldclient (and durablectl) renamed.</summary>
    private static readonly Dictionary<string, string> FlagAliases = new(StringComparer.Ordinal)
    {
        // seeds 000:42 "MoveTables -- --source sourcekeyspace ... Create ks.wf": vtctldclient calls it --source-keyspace.
        ["--source"] = "--source-keyspace",
    };

    /// <summary>Duration flags whose durablectl option takes seconds: a Go duration (30s, 1m30s, 500ms) is turned into them.</summary>
    private static readonly Dictionary<string, bool> SecondsFlags = new(StringComparer.Ordinal)
    {
        // The reference (vitess-2026.md): switchtraffic/reversetraffic --timeout and --max-replication-lag-allowed are
        // Go durations (default 30s); the issue's runbook used "--timeout 30s" and "--max-replication-lag-allowed 10s".
        ["--timeout"] = false,
        ["--max-replication-lag-allowed"] = false,
        // durablectl's own waits, in whole seconds; a Go duration is accepted there too.
        ["--wait-seconds"] = true,
        ["--approval-expiry-seconds"] = true,
        ["--expires-in-seconds"] = true,
    };

    [GeneratedRegex(@"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")]
    private static partial Regex KeyspaceDotWorkflow();

    [GeneratedRegex(@"^[A-Za-z0-9_-]+$")]
    private static partial Regex BareName();

    /// <summary>Applies every rule; throws <see cref="UsageException"/> for a duration that is not one.</summary>
    public static string[] Normalize(IReadOnlyList<string> args, RootCommand root)
    {
        var tokens = new List<string>();
        foreach (var arg in args)
        {
            // seeds 000:42, 000:48, 000:161 "MoveTables -- --source ...": vtctlclient needed "--" before the action's
            // flags (its Go flag parsing stopped at the command name); durablectl takes the flags as they come.
            if (arg == "--")
            {
                continue;
            }

            tokens.Add(Flag(arg));
        }

        ConvertDurations(tokens);
        var group = GroupIndex(tokens, root);
        if (group < 0)
        {
            return [.. tokens];
        }

        var command = root.Subcommands.First(c => c.Name.Equals(tokens[group], StringComparison.OrdinalIgnoreCase));
        // Command names in either case (vtctldclient accepts both: "movetables" as "MoveTables").
        tokens[group] = command.Name;
        if (!WorkflowGroups.Contains(command.Name, StringComparer.Ordinal))
        {
            return [.. tokens];
        }

        var action = ActionIndex(tokens, group + 1, command, out var actionCommand);
        if (action < 0 || actionCommand is null)
        {
            return [.. tokens];
        }

        // Sub-command aliases in either case: "SwitchTraffic", "ReverseTraffic", "Create", "Complete", "Cancel", "Show",
        // "Status" of the seeds (004:454 "MoveTables ... SwitchTraffic", 000:271 "Complete", 000:283 "Cancel").
        var between = tokens.GetRange(group + 1, action - group - 1);
        var after = tokens.GetRange(action + 1, tokens.Count - action - 1);
        var result = tokens.GetRange(0, group + 1);
        if (command.Name == "Workflow")
        {
            // seeds 000:48 "Workflow -- targetkeyspace listall" and 000:55/123/129/143-145 "Workflow -- ks.wf show|start|stop|delete":
            // vtctlclient put the keyspace (or keyspace.workflow) before the action; durablectl takes --keyspace and --workflow.
            var positional = between.Count > 0 && !between[^1].StartsWith('-') && (between.Count < 2 || !TakesValue(between[^2], command)) ? between[^1] : null;
            if (positional is not null && (KeyspaceDotWorkflow().IsMatch(positional) || BareName().IsMatch(positional)))
            {
                between.RemoveAt(between.Count - 1);
                var dot = positional.IndexOf('.', StringComparison.Ordinal);
                result.AddRange(["--keyspace", dot < 0 ? positional : positional[..dot]]);
                result.AddRange(between);
                result.Add(actionCommand.Name);
                if (dot >= 0)
                {
                    result.AddRange(["--workflow", positional[(dot + 1)..]]);
                }

                result.AddRange(after);
                return [.. result];
            }
        }

        // seeds 000:42/195-283 "MoveTables -- --tablet_types=rdonly --dry_run SwitchTraffic ks.wf": the action's flags
        // came before the action; durablectl's action options follow the action (its group options are recursive).
        result.Add(actionCommand.Name);
        result.AddRange(between);
        for (var i = 0; i < after.Count; i++)
        {
            if (after[i].StartsWith('-'))
            {
                if (TakesValue(after[i], actionCommand))
                {
                    result.Add(after[i]);
                    i++;
                    if (i < after.Count)
                    {
                        result.Add(after[i]);
                    }

                    continue;
                }

                result.Add(after[i]);
                continue;
            }

            // seeds 000:42/50/195-283 "... Create targetkeyspace.workflowname": vtctlclient named the workflow as one
            // positional keyspace.workflow after the action; durablectl takes --target-keyspace and --workflow.
            if (command.Name != "Workflow" && KeyspaceDotWorkflow().IsMatch(after[i]))
            {
                var dot = after[i].IndexOf('.', StringComparison.Ordinal);
                result.AddRange(["--target-keyspace", after[i][..dot], "--workflow", after[i][(dot + 1)..]]);
                continue;
            }

            result.Add(after[i]);
        }

        return [.. result];
    }

    /// <summary>
    /// --server as vtctldclient takes it: HOST:PORT (seeds 000:25 "--server vtctld.host:15999", 000:219 "localhost:15999")
    /// means http://HOST:PORT/; a URL (http:// or https://) is taken as it is.
    /// </summary>
    public static string ServerUrl(string server)
    {
        var s = server.Trim();
        return s.Contains("://", StringComparison.Ordinal) ? s : "http://" + s;
    }

    /// <summary>One token's flag spelling: single dash and underscores as the seeds print them, vtctlclient's renamed flags.</summary>
    private static string Flag(string arg)
    {
        if (!arg.StartsWith('-') || arg.Length < 3)
        {
            return arg;
        }

        // seeds 000:168 "vtctldclient -server ... ApplyRoutingRules -rules=...": Go's flag package took one dash as well as two.
        // (A negative number such as "-5s" stays a value: its second character is a digit.)
        if (arg[1] != '-')
        {
            if (!char.IsLetter(arg[1]))
            {
                return arg;
            }

            arg = "-" + arg;
        }

        var eq = arg.IndexOf('=', StringComparison.Ordinal);
        var name = eq < 0 ? arg : arg[..eq];
        var value = eq < 0 ? "" : arg[eq..];
        // seeds 000:201 "--tablet_types=rdonly --dry_run": vtctlclient's flags had underscores where vtctldclient has dashes.
        name = "--" + name[2..].Replace('_', '-');
        return (FlagAliases.TryGetValue(name, out var renamed) ? renamed : name) + value;
    }

    /// <summary>Go durations for the flags that take seconds; a plain number is left as it is (seconds, as before).</summary>
    private static void ConvertDurations(List<string> tokens)
    {
        for (var i = 0; i < tokens.Count; i++)
        {
            var eq = tokens[i].IndexOf('=', StringComparison.Ordinal);
            var name = eq < 0 ? tokens[i] : tokens[i][..eq];
            if (!SecondsFlags.TryGetValue(name, out var whole))
            {
                continue;
            }

            if (eq >= 0)
            {
                tokens[i] = name + "=" + Seconds(name, tokens[i][(eq + 1)..], whole);
            }
            else if (i + 1 < tokens.Count)
            {
                tokens[i + 1] = Seconds(name, tokens[i + 1], whole);
                i++;
            }
        }
    }

    private static string Seconds(string flag, string value, bool whole)
    {
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
        {
            return value;
        }

        TimeSpan duration;
        try
        {
            duration = GoDuration.Parse(flag, value);
        }
        catch (ArgumentException)
        {
            throw new UsageException($"{flag} '{value}' is not a duration: give a Go duration such as 30s, 1m30s, 500ms or 1h, or plain seconds (30).");
        }

        return whole
            ? ((long)Math.Ceiling(duration.TotalSeconds)).ToString(CultureInfo.InvariantCulture)
            : duration.TotalSeconds.ToString("R", CultureInfo.InvariantCulture);
    }

    /// <summary>The first token that names a command of the root (in any case), after the root's own options.</summary>
    private static int GroupIndex(List<string> tokens, RootCommand root)
    {
        for (var i = 0; i < tokens.Count; i++)
        {
            if (tokens[i].StartsWith('-'))
            {
                if (TakesValue(tokens[i], root))
                {
                    i++;
                }

                continue;
            }

            return root.Subcommands.Any(c => c.Name.Equals(tokens[i], StringComparison.OrdinalIgnoreCase)) ? i : -1;
        }

        return -1;
    }

    /// <summary>The first token after the group that names one of its actions (in any case, or a vtctlclient alias).</summary>
    private static int ActionIndex(List<string> tokens, int from, Command group, out Command? action)
    {
        action = null;
        for (var i = from; i < tokens.Count; i++)
        {
            if (tokens[i].StartsWith('-'))
            {
                if (TakesValue(tokens[i], group))
                {
                    i++;
                }

                continue;
            }

            var name = ActionAliases.TryGetValue(tokens[i], out var alias) ? alias : tokens[i];
            action = group.Subcommands.FirstOrDefault(c => c.Name.Equals(name, StringComparison.OrdinalIgnoreCase)
                                                           || c.Aliases.Any(a => a.Equals(name, StringComparison.OrdinalIgnoreCase)));
            if (action is not null)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>
    /// Whether the option token is followed by its value: an option of <paramref name="command"/> (or of any of its
    /// actions, or the root's recursive ones) that is not a flag, written without "=".
    /// </summary>
    private static bool TakesValue(string token, Command command)
    {
        if (token.Contains('=', StringComparison.Ordinal))
        {
            return false;
        }

        var option = command.Options.Concat(command.Subcommands.SelectMany(s => s.Options)).Concat(Root(command).Options)
            .FirstOrDefault(o => o.Name == token || o.Aliases.Contains(token));
        return option is not null && option.ValueType != typeof(bool);
    }

    private static Command Root(Command command) => command.Parents.OfType<Command>().FirstOrDefault() is { } parent ? Root(parent) : command;
}
