using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Durable.Cli.Infrastructure;

namespace Durable.Cli.Commands;

/// <summary>
/// The topology admin commands, vtctldclient style, over the host's /api/topology functions: CreateKeyspace,
/// DeleteKeyspace, GetKeyspace, GetKeyspaces, CreateShard, AddTablet, DeleteTablets, GetTablets, ApplyVSchema,
/// GetVSchema, ApplyRoutingRules, GetRoutingRules, ApplyMirrorRules, GetMirrorRules, Mount register|unregister|list|show, and RegisterLocalCluster.
/// </summary>
/// <remarks>
/// Every flag is optional to the parser and checked in the command, and unknown tokens are collected instead of being
/// parse errors, so that all bad usage ends in one place with exit code 2 (the parser's own errors exit with 1, which
/// scripts could not tell apart from "the host refused the request").
/// </remarks>
public sealed class TopologyCommands : ICommandGroup
{
    private const string Base = "api/topology";

    public void AddTo(RootCommand root, CliContext ctx)
    {
        root.Subcommands.Add(CreateKeyspace(ctx));
        root.Subcommands.Add(DeleteKeyspace(ctx));
        root.Subcommands.Add(GetKeyspace(ctx));
        root.Subcommands.Add(GetKeyspaces(ctx));
        root.Subcommands.Add(CreateShard(ctx));
        root.Subcommands.Add(AddTablet(ctx));
        root.Subcommands.Add(DeleteTablets(ctx));
        root.Subcommands.Add(GetTablets(ctx));
        root.Subcommands.Add(ApplyVSchema(ctx));
        root.Subcommands.Add(GetVSchema(ctx));
        root.Subcommands.Add(ApplyRoutingRules(ctx));
        root.Subcommands.Add(GetRoutingRules(ctx));
        root.Subcommands.Add(ApplyMirrorRules(ctx));
        root.Subcommands.Add(GetMirrorRules(ctx));
        root.Subcommands.Add(Mount(ctx));
        root.Subcommands.Add(RegisterLocalCluster(ctx));
    }

    // ---- Keyspaces and shards ----

    private static Command CreateKeyspace(CliContext ctx)
    {
        var name = Arg("keyspace", "Name of the new keyspace.");
        var sharded = new Option<bool>("--sharded") { Description = "Sharded by key range (its shards are added with CreateShard). Default: unsharded, with shard 0." };
        var sidecar = new Option<string?>("--sidecar-db-name") { Description = "Database of the keyspace's Durable sidecar tables (default _vt)." };
        var cmd = Define("CreateKeyspace", "Creates a keyspace (an unsharded one with its shard 0).", name, sharded, sidecar);
        SetAction(cmd, ctx, async (parse, client, format, ct) =>
        {
            var keyspace = One(parse, name, "CreateKeyspace KEYSPACE [--sharded] [--sidecar-db-name _vt]");
            var body = JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["name"] = keyspace,
                ["sharded"] = parse.GetValue(sharded),
                ["sidecar_db_name"] = parse.GetValue(sidecar) ?? "_vt",
            });
            var response = await client.PostJsonAsync($"{Base}/keyspaces", body, ct).ConfigureAwait(false);
            return await ctx.ReportAsync(response, format, b =>
                $"Successfully created keyspace {Str(b, "name")} ({(b.GetProperty("sharded").GetBoolean() ? "sharded" : "unsharded")}, sidecar database {Str(b, "sidecar_db_name")}; " +
                $"shards: {ShardList(b)}).", "CreateKeyspace").ConfigureAwait(false);
        });
        return cmd;
    }

    private static Command DeleteKeyspace(CliContext ctx)
    {
        var name = Arg("keyspace", "The keyspace to delete.");
        var recursive = new Option<bool>("--recursive") { Description = "Also delete its shards, VSchema and tablets (otherwise it must have none)." };
        var cmd = Define("DeleteKeyspace", "Deletes a keyspace from the topology (not its databases).", name, recursive);
        SetAction(cmd, ctx, async (parse, client, format, ct) =>
        {
            var keyspace = One(parse, name, "DeleteKeyspace KEYSPACE [--recursive]");
            var response = await client.DeleteAsync($"{Base}/keyspaces/{Esc(keyspace)}" + (parse.GetValue(recursive) ? "?recursive=true" : ""), ct).ConfigureAwait(false);
            return await ctx.ReportAsync(response, format, _ => $"Successfully deleted keyspace {keyspace}.", "DeleteKeyspace").ConfigureAwait(false);
        });
        return cmd;
    }

    private static Command GetKeyspace(CliContext ctx)
    {
        var name = Arg("keyspace", "The keyspace to show.");
        var cmd = Define("GetKeyspace", "Shows a keyspace: sharded or not, sidecar database, shards.", name);
        SetAction(cmd, ctx, async (parse, client, format, ct) =>
        {
            var keyspace = One(parse, name, "GetKeyspace KEYSPACE");
            var response = await client.GetAsync($"{Base}/keyspaces/{Esc(keyspace)}", ct).ConfigureAwait(false);
            return await ctx.ReportAsync(response, format, b =>
                $"name           : {Str(b, "name")}\nsharded        : {Str(b, "sharded")}\nsidecar_db_name: {Str(b, "sidecar_db_name")}\nshards         : {ShardList(b)}",
                "GetKeyspace").ConfigureAwait(false);
        });
        return cmd;
    }

    private static Command GetKeyspaces(CliContext ctx)
    {
        var cmd = Define("GetKeyspaces", "Lists the keyspaces, one name a line.");
        SetAction(cmd, ctx, async (parse, client, format, ct) =>
        {
            var response = await client.GetAsync($"{Base}/keyspaces", ct).ConfigureAwait(false);
            return await ctx.ReportAsync(response, format, b => string.Join('\n', b.EnumerateArray().Select(k => Str(k, "name"))), "GetKeyspaces").ConfigureAwait(false);
        });
        return cmd;
    }

    private static Command CreateShard(CliContext ctx)
    {
        var name = Arg("keyspace/shard", "The new shard, e.g. customer/-80.");
        var cmd = Define("CreateShard", "Adds a shard to a keyspace; it may not overlap an existing shard.", name);
        SetAction(cmd, ctx, async (parse, client, format, ct) =>
        {
            var text = One(parse, name, "CreateShard KEYSPACE/SHARD");
            var slash = text.IndexOf('/', StringComparison.Ordinal);
            if (slash <= 0 || slash == text.Length - 1)
            {
                throw new UsageException($"'{text}' is not KEYSPACE/SHARD; e.g. customer/-80 or commerce/0.");
            }

            var (keyspace, shard) = (text[..slash], text[(slash + 1)..]);
            var response = await client.PostJsonAsync($"{Base}/keyspaces/{Esc(keyspace)}/shards/{Esc(shard)}", null, ct).ConfigureAwait(false);
            return await ctx.ReportAsync(response, format, b => $"Successfully created shard {keyspace}/{shard} (key range {Str(b, "key_range")}).", "CreateShard").ConfigureAwait(false);
        });
        return cmd;
    }

    // ---- Tablets ----

    private static Command AddTablet(CliContext ctx)
    {
        var alias = new Option<string?>("--alias") { Description = "Tablet alias CELL-UID, e.g. zone1-100 (required)." };
        var keyspace = new Option<string?>("--keyspace") { Description = "Keyspace of the tablet (required; must exist)." };
        var shard = new Option<string?>("--shard") { Description = "Shard of the tablet (required; must exist)." };
        var type = new Option<string?>("--type") { Description = "PRIMARY, REPLICA or RDONLY (required)." };
        var host = new Option<string?>("--host") { Description = "MySQL/MariaDB host (required)." };
        var port = new Option<string?>("--port") { Description = "MySQL/MariaDB port, 1-65535 (required)." };
        var user = new Option<string?>("--user") { Description = "MySQL user Durable logs in as (required)." };
        var credentials = new Option<string?>("--credentials") { Description = "Where its password is: secret:NAME (secrets file) or env:NAME (required). Never the password itself." };
        var dbName = new Option<string?>("--db-name") { Description = "Database of the keyspace on this server (default vt_KEYSPACE)." };
        var serverId = new Option<string?>("--server-id") { Description = "The server's server_id, kept out of the binlog server id range." };
        var allowUpdate = new Option<bool>("--allow-update") { Description = "Replace the tablet if the alias exists." };
        var cmd = Define("AddTablet", "Registers a MySQL/MariaDB server as a tablet of a keyspace shard.",
            alias, keyspace, shard, type, host, port, user, credentials, dbName, serverId, allowUpdate);
        SetAction(cmd, ctx, async (parse, client, format, ct) =>
        {
            RequireAll(parse, alias, keyspace, shard, type, host, port, user, credentials);
            var portText = RequiredOption(parse, port);
            if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var portNumber) || portNumber is < 1 or > 65535)
            {
                throw new UsageException($"--port '{portText}' is not a port; valid: 1-65535.");
            }

            long? id = null;
            if (parse.GetValue(serverId) is { } idText)
            {
                id = long.TryParse(idText, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is > 0 and <= uint.MaxValue
                    ? n
                    : throw new UsageException($"--server-id '{idText}' is not a server id; valid: 1-4294967295.");
            }

            var body = JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["alias"] = RequiredOption(parse, alias),
                ["keyspace"] = RequiredOption(parse, keyspace),
                ["shard"] = RequiredOption(parse, shard),
                ["type"] = RequiredOption(parse, type),
                ["host"] = RequiredOption(parse, host),
                ["port"] = portNumber,
                ["user"] = RequiredOption(parse, user),
                ["password_ref"] = RequiredOption(parse, credentials),
                ["db_name"] = parse.GetValue(dbName),
                ["server_id"] = id,
                ["allow_update"] = parse.GetValue(allowUpdate),
            });
            var response = await client.PostJsonAsync($"{Base}/tablets", body, ct).ConfigureAwait(false);
            return await ctx.ReportAsync(response, format, b =>
                $"Successfully added tablet {Str(b, "alias")} ({Str(b, "keyspace")}/{Str(b, "shard")} {Str(b, "tablet_type")} at {Str(b, "hostname")}:{TextRender.Scalar(b.GetProperty("port"))}).",
                "AddTablet").ConfigureAwait(false);
        });
        return cmd;
    }

    private static Command DeleteTablets(CliContext ctx)
    {
        var aliases = new Argument<string[]>("alias") { Description = "Tablet aliases, e.g. zone1-101 zone1-102.", Arity = ArgumentArity.ZeroOrMore };
        var allowPrimary = new Option<bool>("--allow-primary") { Description = "Allow deleting a shard's PRIMARY (the shard is left without one)." };
        var cmd = Define("DeleteTablets", "Removes tablets from the topology, all or none.", aliases, allowPrimary);
        SetAction(cmd, ctx, async (parse, client, format, ct) =>
        {
            var list = parse.GetValue(aliases) ?? [];
            if (list.Length == 0)
            {
                throw new UsageException("DeleteTablets needs at least one tablet alias, e.g. DeleteTablets zone1-101.");
            }

            var query = string.Join('&', list.Select(a => "alias=" + Esc(a))) + (parse.GetValue(allowPrimary) ? "&allow_primary=true" : "");
            var response = await client.DeleteAsync($"{Base}/tablets?{query}", ct).ConfigureAwait(false);
            return await ctx.ReportAsync(response, format, b =>
                $"Successfully deleted tablets {string.Join(", ", b.GetProperty("deleted").EnumerateArray().Select(TextRender.Scalar))}.", "DeleteTablets").ConfigureAwait(false);
        });
        return cmd;
    }

    /// <summary>Columns as in Vitess's tablet table (show vitess_tablets), then where Durable connects.</summary>
    private static readonly (string Header, string Field)[] TabletColumns =
    [
        ("Cell", "cell"), ("Keyspace", "keyspace"), ("Shard", "shard"), ("TabletType", "tablet_type"), ("State", "state"),
        ("Alias", "alias"), ("Hostname", "hostname"), ("Port", "port"), ("DbName", "db_name"), ("User", "user"), ("Credentials", "password_ref"),
    ];

    private static Command GetTablets(CliContext ctx)
    {
        var keyspace = new Option<string?>("--keyspace") { Description = "Only tablets of this keyspace." };
        var shard = new Option<string?>("--shard") { Description = "Only tablets of this shard (needs --keyspace)." };
        var cells = new Option<string[]>("--cell") { Description = "Only tablets in these cells.", AllowMultipleArgumentsPerToken = true };
        var cmd = Define("GetTablets", "Lists tablets as a table: Cell Keyspace Shard TabletType State Alias Hostname Port DbName User Credentials.", keyspace, shard, cells);
        SetAction(cmd, ctx, async (parse, client, format, ct) =>
        {
            if (parse.GetValue(shard) is not null && parse.GetValue(keyspace) is null)
            {
                throw new UsageException("--shard needs --keyspace too, e.g. GetTablets --keyspace customer --shard -80.");
            }

            var query = new List<string>();
            if (parse.GetValue(keyspace) is { } k)
            {
                query.Add("keyspace=" + Esc(k));
            }

            if (parse.GetValue(shard) is { } s)
            {
                query.Add("shard=" + Esc(s));
            }

            query.AddRange((parse.GetValue(cells) ?? []).Select(c => "cell=" + Esc(c)));
            var response = await client.GetAsync($"{Base}/tablets" + (query.Count > 0 ? "?" + string.Join('&', query) : ""), ct).ConfigureAwait(false);
            return await ctx.ReportAsync(response, format, TabletTable, "GetTablets").ConfigureAwait(false);
        });
        return cmd;
    }

    internal static string TabletTable(JsonElement rows)
    {
        var data = rows.EnumerateArray().Select(r => TabletColumns.Select(c => r.TryGetProperty(c.Field, out var v) ? TextRender.Scalar(v) : "").ToArray()).ToList();
        var widths = TabletColumns.Select((c, i) => Math.Max(c.Header.Length, data.Count == 0 ? 0 : data.Max(r => r[i].Length))).ToArray();
        var sb = new StringBuilder();
        sb.Append(string.Join("  ", TabletColumns.Select((c, i) => c.Header.PadRight(widths[i]))).TrimEnd()).Append('\n');
        foreach (var row in data)
        {
            sb.Append(string.Join("  ", row.Select((v, i) => v.PadRight(widths[i]))).TrimEnd()).Append('\n');
        }

        return sb.ToString().TrimEnd('\n');
    }

    // ---- VSchema and routing rules ----

    private static Command ApplyVSchema(CliContext ctx)
    {
        var keyspace = Arg("keyspace", "The keyspace whose VSchema to replace.");
        var inline = new Option<string?>("--vschema") { Description = "The VSchema as JSON." };
        var file = new Option<string?>("--vschema-file") { Description = "A file holding the VSchema JSON." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Validate and print what would be stored; write nothing." };
        var cmd = Define("ApplyVSchema", "Validates a keyspace's VSchema (vindexes, tables, column vindexes) and stores it.", keyspace, inline, file, dryRun);
        SetAction(cmd, ctx, async (parse, client, format, ct) =>
        {
            var name = One(parse, keyspace, "ApplyVSchema --vschema JSON | --vschema-file FILE [--dry-run] KEYSPACE");
            var json = await OneSourceAsync(parse, inline, file, ct).ConfigureAwait(false);
            var dry = parse.GetValue(dryRun);
            var response = await client.PostJsonAsync($"{Base}/keyspaces/{Esc(name)}/vschema" + (dry ? "?dry_run=true" : ""), json, ct).ConfigureAwait(false);
            return await ReportApplyAsync(ctx, response, format, "vschema", "VSchema", dry, "ApplyVSchema").ConfigureAwait(false);
        });
        return cmd;
    }

    private static Command GetVSchema(CliContext ctx)
    {
        var keyspace = Arg("keyspace", "The keyspace whose VSchema to print.");
        var cmd = Define("GetVSchema", "Prints a keyspace's VSchema as JSON ({} when none was applied).", keyspace);
        SetAction(cmd, ctx, async (parse, client, format, ct) =>
        {
            var name = One(parse, keyspace, "GetVSchema KEYSPACE");
            var response = await client.GetAsync($"{Base}/keyspaces/{Esc(name)}/vschema", ct).ConfigureAwait(false);
            return await ReportDocumentAsync(ctx, response, format, "GetVSchema").ConfigureAwait(false);
        });
        return cmd;
    }

    private static Command ApplyRoutingRules(CliContext ctx)
    {
        var inline = new Option<string?>("--rules") { Description = "The routing rules as JSON: {\"rules\":[{\"from_table\":...,\"to_tables\":[...]}]}." };
        var file = new Option<string?>("--rules-file") { Description = "A file holding the routing rules JSON." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Validate and print what would be stored; write nothing." };
        var cmd = Define("ApplyRoutingRules", "Validates the routing rules and replaces the stored ones.", inline, file, dryRun);
        SetAction(cmd, ctx, async (parse, client, format, ct) =>
        {
            var json = await OneSourceAsync(parse, inline, file, ct).ConfigureAwait(false);
            var dry = parse.GetValue(dryRun);
            var response = await client.PostJsonAsync($"{Base}/routingrules" + (dry ? "?dry_run=true" : ""), json, ct).ConfigureAwait(false);
            return await ReportApplyAsync(ctx, response, format, "rules", "RoutingRules", dry, "ApplyRoutingRules").ConfigureAwait(false);
        });
        return cmd;
    }

    private static Command GetRoutingRules(CliContext ctx)
    {
        var cmd = Define("GetRoutingRules", "Prints the routing rules as JSON.");
        SetAction(cmd, ctx, async (parse, client, format, ct) =>
        {
            var response = await client.GetAsync($"{Base}/routingrules", ct).ConfigureAwait(false);
            return await ReportDocumentAsync(ctx, response, format, "GetRoutingRules").ConfigureAwait(false);
        });
        return cmd;
    }

    private static Command ApplyMirrorRules(CliContext ctx)
    {
        var inline = new Option<string?>("--rules") { Description = "The mirror rules as JSON: {\"rules\":[{\"from_table\":\"commerce.customer\",\"to_table\":\"customer.customer\",\"percent\":10}]}." };
        var file = new Option<string?>("--rules-file") { Description = "A file holding the mirror rules JSON." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Validate and print what would be stored; write nothing." };
        var cmd = Define("ApplyMirrorRules", "Validates the mirror rules (percent 0-100, tables qualified, keyspaces exist) and replaces the stored ones.", inline, file, dryRun);
        SetAction(cmd, ctx, async (parse, client, format, ct) =>
        {
            var json = await OneSourceAsync(parse, inline, file, ct).ConfigureAwait(false);
            var dry = parse.GetValue(dryRun);
            var response = await client.PostJsonAsync($"{Base}/mirrorrules" + (dry ? "?dry_run=true" : ""), json, ct).ConfigureAwait(false);
            return await ReportApplyAsync(ctx, response, format, "rules", "MirrorRules", dry, "ApplyMirrorRules").ConfigureAwait(false);
        });
        return cmd;
    }

    private static Command GetMirrorRules(CliContext ctx)
    {
        var cmd = Define("GetMirrorRules", "Prints the mirror rules as JSON.");
        SetAction(cmd, ctx, async (parse, client, format, ct) =>
        {
            var response = await client.GetAsync($"{Base}/mirrorrules", ct).ConfigureAwait(false);
            return await ReportDocumentAsync(ctx, response, format, "GetMirrorRules").ConfigureAwait(false);
        });
        return cmd;
    }

    // ---- Mounts ----

    private static Command Mount(CliContext ctx)
    {
        var mount = new Command("Mount", "Registers external clusters (their topology) for Migrate: register, unregister, list, show.");

        var name = new Option<string?>("--name") { Description = "Name of the mounted cluster, e.g. ext1." };
        var topoType = new Option<string?>("--topo-type") { Description = "Topology server type, e.g. etcd2." };
        var topoServer = new Option<string?>("--topo-server") { Description = "Topology server address, e.g. localhost:12379." };
        var topoRoot = new Option<string?>("--topo-root") { Description = "Root of its global topology, e.g. /vitess/global." };
        var register = Define("register", "Registers an external cluster.", name, topoType, topoServer, topoRoot);
        SetAction(register, ctx, async (parse, client, format, ct) =>
        {
            var body = JsonSerializer.Serialize(new Dictionary<string, string>
            {
                ["name"] = RequiredOption(parse, name),
                ["topo_type"] = RequiredOption(parse, topoType),
                ["topo_server"] = RequiredOption(parse, topoServer),
                ["topo_root"] = RequiredOption(parse, topoRoot),
            });
            var response = await client.PostJsonAsync($"{Base}/mounts", body, ct).ConfigureAwait(false);
            return await ctx.ReportAsync(response, format, b => $"Successfully registered mount {Str(b, "name")}.", "Mount register").ConfigureAwait(false);
        });
        mount.Subcommands.Add(register);

        var unregisterName = new Option<string?>("--name") { Description = "Name of the mounted cluster." };
        var unregister = Define("unregister", "Unregisters an external cluster.", unregisterName);
        SetAction(unregister, ctx, async (parse, client, format, ct) =>
        {
            var n = RequiredOption(parse, unregisterName);
            var response = await client.DeleteAsync($"{Base}/mounts/{Esc(n)}", ct).ConfigureAwait(false);
            return await ctx.ReportAsync(response, format, _ => $"Successfully unregistered mount {n}.", "Mount unregister").ConfigureAwait(false);
        });
        mount.Subcommands.Add(unregister);

        var list = Define("list", "Lists the registered external clusters, one name a line.");
        SetAction(list, ctx, async (parse, client, format, ct) =>
        {
            var response = await client.GetAsync($"{Base}/mounts", ct).ConfigureAwait(false);
            return await ctx.ReportAsync(response, format, b => string.Join('\n', b.EnumerateArray().Select(TextRender.Scalar)), "Mount list").ConfigureAwait(false);
        });
        mount.Subcommands.Add(list);

        var showName = new Option<string?>("--name") { Description = "Name of the mounted cluster." };
        var show = Define("show", "Shows where an external cluster's topology is.", showName);
        SetAction(show, ctx, async (parse, client, format, ct) =>
        {
            var n = RequiredOption(parse, showName);
            var response = await client.GetAsync($"{Base}/mounts/{Esc(n)}", ct).ConfigureAwait(false);
            return await ctx.ReportAsync(response, format, b => TextRender.Fields(b, "name", "topo_type", "topo_server", "topo_root"), "Mount show").ConfigureAwait(false);
        });
        mount.Subcommands.Add(show);
        return mount;
    }

    // ---- Local cluster ----

    private static Command RegisterLocalCluster(CliContext ctx)
    {
        var file = new Option<string?>("--cluster-file") { Description = "The cluster.json that infra/local/cluster.sh writes (.local/cluster.json)." };
        var cmd = Define("RegisterLocalCluster", "Registers the local cluster's cell, keyspaces, shards and tablets in the host's topology; safe to repeat.", file);
        SetAction(cmd, ctx, async (parse, client, format, ct) =>
        {
            var path = RequiredOption(parse, file);
            if (!File.Exists(path))
            {
                throw new UsageException($"--cluster-file '{path}' does not exist; `./infra/local/cluster.sh up` writes .local/cluster.json.");
            }

            var text = await File.ReadAllTextAsync(path, ct).ConfigureAwait(false);
            var response = await client.PostJsonAsync($"{Base}/localcluster", text, ct).ConfigureAwait(false);
            return await ctx.ReportAsync(response, format, b =>
                string.Join('\n', b.GetProperty("done").EnumerateArray().Select(TextRender.Scalar).Append($"Local cluster registered under {Str(b, "root")}.")),
                "RegisterLocalCluster").ConfigureAwait(false);
        });
        return cmd;
    }

    // ---- helpers ----

    private static Argument<string[]> Arg(string name, string description) =>
        new(name) { Description = description, Arity = ArgumentArity.ZeroOrMore };

    private static Command Define(string name, string description, params Symbol[] symbols)
    {
        // Unknown tokens are reported by the command (exit 2), not by the parser (exit 1); see the class remarks.
        var cmd = new Command(name, description) { TreatUnmatchedTokensAsErrors = false };
        foreach (var symbol in symbols)
        {
            switch (symbol)
            {
                case Option option:
                    cmd.Options.Add(option);
                    break;
                case Argument argument:
                    cmd.Arguments.Add(argument);
                    break;
            }
        }

        return cmd;
    }

    private static void SetAction(Command cmd, CliContext ctx, Func<ParseResult, DurableHostClient, OutputFormat, CancellationToken, Task<int>> body) =>
        cmd.SetAction(ctx.Run(async (parse, client, format, ct) =>
        {
            if (parse.UnmatchedTokens.Count > 0)
            {
                throw new UsageException($"{cmd.Name}: unknown option or extra argument {string.Join(" ", parse.UnmatchedTokens.Select(t => $"'{t}'"))}; see `durablectl {cmd.Name} --help`.");
            }

            return await body(parse, client, format, ct).ConfigureAwait(false);
        }));

    /// <summary>Exactly one positional value.</summary>
    private static string One(ParseResult parse, Argument<string[]> argument, string usage)
    {
        var values = parse.GetValue(argument) ?? [];
        return values.Length switch
        {
            1 when values[0].Length > 0 => values[0],
            0 => throw new UsageException($"missing {argument.Name.ToUpperInvariant()}; usage: durablectl {usage}."),
            _ => throw new UsageException($"expected one {argument.Name.ToUpperInvariant()}, got {string.Join(" ", values.Select(v => $"'{v}'"))}; usage: durablectl {usage}."),
        };
    }

    /// <summary>Names every missing required flag at once, so a user fixes the command line in one go.</summary>
    private static void RequireAll(ParseResult parse, params Option<string?>[] options)
    {
        var missing = options.Where(o => parse.GetValue(o) is not { Length: > 0 }).Select(o => o.Name).ToList();
        if (missing.Count > 0)
        {
            throw new UsageException($"{parse.CommandResult.Command.Name} needs {string.Join(", ", missing)}; see `durablectl {parse.CommandResult.Command.Name} --help`.");
        }
    }

    private static string RequiredOption(ParseResult parse, Option<string?> option) =>
        parse.GetValue(option) is { Length: > 0 } value
            ? value
            : throw new UsageException($"{parse.CommandResult.Command.Name} needs {option.Name} ({option.Description})");

    private static async Task<string> OneSourceAsync(ParseResult parse, Option<string?> inline, Option<string?> file, CancellationToken ct)
    {
        var text = parse.GetValue(inline);
        var path = parse.GetValue(file);
        if ((text is null) == (path is null))
        {
            throw new UsageException($"give exactly one of {inline.Name} JSON or {file.Name} FILE.");
        }

        if (path is null)
        {
            return text!;
        }

        if (!File.Exists(path))
        {
            throw new UsageException($"{file.Name} '{path}' does not exist.");
        }

        return await File.ReadAllTextAsync(path, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Prints an Apply result as vtctldclient does: the new object as stored, then a dry-run note. The document is
    /// printed from the raw response text, exactly as GetVSchema / GetRoutingRules print it.
    /// </summary>
    private static async Task<int> ReportApplyAsync(CliContext ctx, HostResponse response, OutputFormat format, string field, string title, bool dryRun, string what)
    {
        if (!response.IsSuccess || response.Body is not { ValueKind: JsonValueKind.Object } body || !body.TryGetProperty(field, out var document))
        {
            return await ctx.ReportAsync(response, format, what: what).ConfigureAwait(false);
        }

        if (format == OutputFormat.Json)
        {
            await ctx.Output.WriteLineAsync(response.RawBody).ConfigureAwait(false);
            return ExitCodes.Ok;
        }

        await ctx.Output.WriteLineAsync($"New {title} object:\n{document.GetRawText()}\n" +
                                        "If this is not what you expected, check the input data.").ConfigureAwait(false);
        if (dryRun)
        {
            await ctx.Output.WriteLineAsync($"Dry run: {title} not written.").ConfigureAwait(false);
        }

        return ExitCodes.Ok;
    }

    /// <summary>A JSON document (VSchema, routing rules) printed as the host sent it, in both formats: it is JSON already.</summary>
    private static async Task<int> ReportDocumentAsync(CliContext ctx, HostResponse response, OutputFormat format, string what)
    {
        if (!response.IsSuccess)
        {
            return await ctx.ReportAsync(response, format, what: what).ConfigureAwait(false);
        }

        await ctx.Output.WriteLineAsync(response.RawBody).ConfigureAwait(false);
        return ExitCodes.Ok;
    }

    private static string Esc(string value) => Uri.EscapeDataString(value);

    private static string Str(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) ? TextRender.Scalar(v) : "";

    private static string ShardList(JsonElement keyspace) =>
        keyspace.TryGetProperty("shards", out var shards) && shards.GetArrayLength() > 0
            ? string.Join(", ", shards.EnumerateArray().Select(TextRender.Scalar))
            : "none yet";
}
