using System.CommandLine;
using System.Text.Json;
using Durable.Cli.Infrastructure;
using Durable.Contracts;

namespace Durable.Cli.Commands;

/// <summary>
/// <c>durablectl Migrate --workflow W --target-keyspace K create --source-keyspace S --mount-name M ...|show|status|complete|cancel</c>
/// (the MoveTables commands with kind Migrate, over <c>/api/migrate</c>) and <c>durablectl RegisterExternalSource</c>,
/// which registers a source with the account to read it (a plain MySQL/MariaDB server, or a mounted cluster).
/// </summary>
public sealed class MigrateCommands : ICommandGroup
{
    public void AddTo(RootCommand root, CliContext ctx)
    {
        new MoveTablesCommands(WorkflowKinds.Migrate).AddTo(root, ctx);
        root.Subcommands.Add(RegisterExternalSource(ctx));
    }

    private static Command RegisterExternalSource(CliContext ctx)
    {
        var name = new Option<string>("--name") { Description = "Name of the source, used as --mount-name by Migrate/MoveTables create (letters, digits, '_').", Required = true };
        var type = new Option<string>("--type")
        {
            Description = "unmanaged: a plain MySQL/MariaDB server that no topology knows, served as a one-shard keyspace; vitess: a mounted cluster's topology (as Mount register) with the account for its tablets.",
            DefaultValueFactory = _ => "unmanaged",
        };
        var keyspace = new Option<string?>("--keyspace") { Description = "unmanaged: the keyspace name the server's database is known by (--source-keyspace of create)." };
        var host = new Option<string?>("--host") { Description = "unmanaged: the server's host name or address." };
        var port = new Option<int>("--port") { Description = "unmanaged: the server's port.", DefaultValueFactory = _ => 3306 };
        var db = new Option<string?>("--db-name") { Description = "unmanaged: the database (schema) holding the tables." };
        var topoType = new Option<string>("--topo-type") { Description = "vitess: topology server type.", DefaultValueFactory = _ => "etcd2" };
        var topoServer = new Option<string?>("--topo-server") { Description = "vitess: topology server address, e.g. localhost:12379." };
        var topoRoot = new Option<string?>("--topo-root") { Description = "vitess: root of its topology, e.g. /vitess/global." };
        var user = new Option<string?>("--user") { Description = "The account to read the source with (the engine account, e.g. durable_filtered)." };
        var credentials = new Option<string?>("--credentials-ref")
        {
            Description = "Where that account's password is on the Durable hosts: secret:NAME (their secrets file) or env:NAME. Never the password itself.",
        };
        var asKeyspace = new Option<bool>("--as-keyspace")
        {
            Description = "unmanaged: register the server as an ordinary one-shard keyspace of this topology (its one tablet PRIMARY, with --user/--credentials-ref as its own account) " +
                          "instead of a mount, so MoveTables from it can SwitchTraffic/ReverseTraffic. Without --host: the server, database and account of the already registered " +
                          "external source --name, as keyspace --keyspace (default: the keyspace that source serves). With --host: as keyspace --keyspace (default: --name).",
        };
        var cell = new Option<string?>("--cell") { Description = "--as-keyspace: the tablet's cell (default: the topology's only cell)." };
        var alias = new Option<string?>("--tablet-alias") { Description = "--as-keyspace: the tablet's alias, CELL-UID (default: the cell and the next free uid)." };
        var cmd = new Command("RegisterExternalSource",
            "Registers a source for Migrate (and MoveTables) with the account to read it. List, show and unregister it with the Mount commands; with --as-keyspace it becomes a keyspace (GetKeyspaces, GetTablets).")
        {
            name, type, keyspace, host, port, db, topoType, topoServer, topoRoot, user, credentials, asKeyspace, cell, alias,
        };
        cmd.SetAction(ctx.Run(async (p, client, format, ct) =>
        {
            var body = JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["name"] = p.GetValue(name),
                ["type"] = p.GetValue(type),
                ["keyspace"] = p.GetValue(keyspace),
                ["host"] = p.GetValue(host),
                ["port"] = p.GetValue(port),
                ["db_name"] = p.GetValue(db),
                ["topo_type"] = p.GetValue(topoType),
                ["topo_server"] = p.GetValue(topoServer),
                ["topo_root"] = p.GetValue(topoRoot),
                ["user"] = p.GetValue(user),
                ["credentials_ref"] = p.GetValue(credentials),
                ["as_keyspace"] = p.GetValue(asKeyspace) ? true : null,
                ["cell"] = p.GetValue(cell),
                ["tablet_alias"] = p.GetValue(alias),
            });
            var response = await client.PostJsonAsync("api/externalsources", body, ct).ConfigureAwait(false);
            return await ctx.ReportAsync(response, format, b => b.TryGetProperty("tablet", out var t)
                    ? $"Successfully registered keyspace {b.GetProperty("keyspace").GetString()}: shard 0, PRIMARY tablet {t.GetProperty("alias").GetString()} at " +
                      $"{t.GetProperty("host").GetString()}:{t.GetProperty("port").GetInt32()} (database {t.GetProperty("db_name").GetString()}, user {t.GetProperty("user").GetString()})."
                    : $"Successfully registered external source {b.GetProperty("name").GetString()} ({b.GetProperty("type").GetString()}).",
                "RegisterExternalSource").ConfigureAwait(false);
        }));
        return cmd;
    }
}
