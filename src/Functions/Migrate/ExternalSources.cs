using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Durable.Functions.Runner;
using Durable.Topology;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;

namespace Durable.Functions.MoveTables;

/// <summary>
/// Migrate's additions to the MoveTables API: which create options Migrate refuses, and <c>POST /api/externalsources</c>
/// (durablectl RegisterExternalSource), which registers a source with the account to read it with.
/// </summary>
public static class ExternalSources
{
    /// <summary>The body of <c>POST /api/externalsources</c>.</summary>
    public sealed record Body(
        [property: JsonPropertyName("name")] string? Name,
        [property: JsonPropertyName("type")] string? Type,
        [property: JsonPropertyName("keyspace")] string? Keyspace,
        [property: JsonPropertyName("host")] string? Host,
        [property: JsonPropertyName("port")] int? Port,
        [property: JsonPropertyName("db_name")] string? DbName,
        [property: JsonPropertyName("topo_type")] string? TopoType,
        [property: JsonPropertyName("topo_server")] string? TopoServer,
        [property: JsonPropertyName("topo_root")] string? TopoRoot,
        [property: JsonPropertyName("user")] string? User,
        [property: JsonPropertyName("credentials_ref")] string? CredentialsRef,
        [property: JsonPropertyName("as_keyspace")] bool? AsKeyspace = null,
        [property: JsonPropertyName("cell")] string? Cell = null,
        [property: JsonPropertyName("tablet_alias")] string? TabletAlias = null);

    /// <summary>
    /// The seeds: Migrate takes the MoveTables create options except --enable-reverse-replication; routing rules and
    /// cutover hooks do not exist for it either. Null when the body is acceptable (these fields absent or at their defaults).
    /// </summary>
    public static string? MigrateRefusal(JsonObject body)
    {
        foreach (var (flag, why) in new[]
                 {
                     ("enable_reverse_replication", "reverse replication would need streams in the source cluster's sidecar database, which belongs to that cluster"),
                     ("no_routing_rules", "Migrate never creates routing rules"),
                     ("cutover_hooks", "Migrate never switches traffic"),
                 })
        {
            // Only a value that asks for the feature is refused: a client that serializes the whole create record
            // sends these fields with their defaults (false, empty), and that asks for nothing.
            if (body[flag] is { } value && value.GetValueKind() is not (JsonValueKind.False or JsonValueKind.Null)
                && !(value is JsonArray { Count: 0 }))
            {
                return $"Migrate create does not take {flag}: {why}.";
            }
        }

        return null;
    }

    /// <summary>
    /// Registers a Migrate/MoveTables source with its account: type unmanaged (a plain MySQL/MariaDB server as a one-shard
    /// keyspace) or vitess (a mounted topology, as Mount register, plus the account for its tablets). 201 with the
    /// record; 400 naming the bad value; 409 when the name is taken. List, show and unregister are the Mount commands.
    /// </summary>
    internal static async Task<IResult> RegisterAsync(HttpContext http, FunctionContext ctx)
    {
        var (json, bodyError) = await MoveTablesFunctions.ReadBodyAsync(http).ConfigureAwait(false);
        if (bodyError is not null)
        {
            return bodyError;
        }

        var b = MoveTablesFunctions.As<Body>(json, out var parseError);
        if (parseError is not null || b is null)
        {
            return MoveTablesFunctions.Error(400, parseError ?? "The request body must be a JSON object.");
        }

        var admin = new TopologyAdmin(MoveTablesFunctions.Env(ctx).Store);
        var type = string.IsNullOrWhiteSpace(b.Type) ? MountTypes.Unmanaged : b.Type.Trim().ToLowerInvariant();
        try
        {
            if (b.AsKeyspace == true)
            {
                return await RegisterAsKeyspaceAsync(admin, b, type, http, ctx).ConfigureAwait(false);
            }

            if (type == MountTypes.Vitess && !string.IsNullOrWhiteSpace(b.TopoServer) && !string.IsNullOrWhiteSpace(b.TopoRoot))
            {
                // As Mount register: a root that holds no keyspaces is refused now, not at the first create.
                await TopologyAdmin.CheckMountedTopologyAsync(b.TopoServer, b.TopoRoot, http.RequestAborted).ConfigureAwait(false);
            }

            var record = type switch
            {
                MountTypes.Unmanaged => await admin.RegisterUnmanagedSourceAsync(b.Name ?? "", b.Keyspace ?? "", b.Host ?? "", b.Port ?? 3306, b.DbName ?? "", b.User ?? "",
                    b.CredentialsRef ?? "", http.RequestAborted).ConfigureAwait(false),
                MountTypes.Vitess => await admin.MountRegisterAsync(b.Name ?? "", b.TopoType ?? "etcd2", b.TopoServer ?? "", b.TopoRoot ?? "", b.User, b.CredentialsRef,
                    http.RequestAborted).ConfigureAwait(false),
                _ => throw new TopologyValidationException($"type '{b.Type}' is invalid: unmanaged (a plain MySQL/MariaDB server) or vitess (a mounted topology)."),
            };
            ctx.Logger.LogInformation("External source {Name} ({Type}) registered", record.Name, record.MountType);
            return Results.Json(record, MoveTablesFunctions.Json, statusCode: StatusCodes.Status201Created);
        }
        catch (TopologyValidationException e) when (e.Message.Contains("already registered", StringComparison.Ordinal) || e.Message.Contains("already exists", StringComparison.Ordinal))
        {
            return MoveTablesFunctions.Error(409, e.Message);
        }
        catch (TopologyValidationException e)
        {
            return MoveTablesFunctions.Error(400, e.Message);
        }
        catch (TopologyNotFoundException e)
        {
            return MoveTablesFunctions.Error(404, e.Message);
        }
    }

    /// <summary>
    /// <c>as_keyspace</c>: the server becomes an ordinary one-shard keyspace of this topology (its one tablet PRIMARY,
    /// with its own account), so MoveTables from it can switch traffic. With <c>host</c>: the server given, as keyspace
    /// <c>keyspace</c> (default <c>name</c>); without: the server, database and account of the registered unmanaged source
    /// <c>name</c>, as keyspace <c>keyspace</c> (default the one that source serves). 201 with the keyspace and its tablet.
    /// </summary>
    private static async Task<IResult> RegisterAsKeyspaceAsync(TopologyAdmin admin, Body b, string type, HttpContext http, FunctionContext ctx)
    {
        if (type != MountTypes.Unmanaged)
        {
            throw new TopologyValidationException($"as_keyspace registers one unmanaged server as a keyspace; type '{b.Type}' is not possible with it (a mounted vitess cluster stays a mount).");
        }

        var tablet = string.IsNullOrWhiteSpace(b.Host)
            ? await admin.RegisterUnmanagedKeyspaceFromMountAsync(b.Name ?? "", b.Keyspace, b.Cell, b.TabletAlias, http.RequestAborted).ConfigureAwait(false)
            : await admin.RegisterUnmanagedKeyspaceAsync(new UnmanagedKeyspaceRequest(
                string.IsNullOrWhiteSpace(b.Keyspace) ? b.Name ?? "" : b.Keyspace, b.Host, b.Port ?? 3306, b.DbName ?? "", b.User ?? "", b.CredentialsRef ?? "", b.Cell, b.TabletAlias),
                http.RequestAborted).ConfigureAwait(false);
        ctx.Logger.LogInformation("Unmanaged server {Host}:{Port} registered as keyspace {Keyspace} (tablet {Alias})", tablet.Host, tablet.Port, tablet.Keyspace, tablet.Alias);
        return Results.Json(new JsonObject
        {
            ["name"] = tablet.Keyspace,
            ["type"] = "keyspace",
            ["keyspace"] = tablet.Keyspace,
            ["tablet"] = JsonSerializer.SerializeToNode(tablet, TopologyJson.Options),
        }, MoveTablesFunctions.Json, statusCode: StatusCodes.Status201Created);
    }
}
