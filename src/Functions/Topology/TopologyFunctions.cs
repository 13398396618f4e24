using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Durable.Composition;
using Durable.Core.Vindexes;
using Durable.Functions.App;
using Durable.Functions.Runner;
using Durable.Topology;
using Durable.Topology.Etcd;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using AuthorizationLevel = Microsoft.Azure.Functions.Worker.AuthorizationLevel;

namespace Durable.Functions.Topology;

/// <summary>
/// The topology admin commands (vtctldclient names) as HTTP-triggered functions under <c>/api/topology/...</c>, each a
/// thin wrapper over <see cref="TopologyAdmin"/>: the library validates and writes in one etcd transaction, so a request
/// it rejects writes nothing. Errors: 400 with the library's message for bad input or a missing record, 409 when a
/// racing writer won, 503 when etcd is unreachable or the host has no topology settings. All need a function key.
/// </summary>
public static class TopologyFunctions
{
    public const string RoutePrefix = "topology";

    /// <summary>Request bodies: snake_case as in the topology records; an unknown field is an error, not silently dropped.</summary>
    internal static readonly JsonSerializerOptions RequestJson = new()
    {
        PropertyNameCaseInsensitive = false,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowTrailingCommas = false,
    };

    /// <summary>Responses: snake_case from the records' attributes, non-ASCII as is (table names may be any UTF-8).</summary>
    internal static readonly JsonSerializerOptions ResponseJson = new()
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>
    /// Registers the functions over the composition root's <see cref="TopologyAdmin"/> (the process's one etcd client),
    /// created when first used: a host without topology settings still starts, and a topology request then gets a 503
    /// naming the missing setting.
    /// </summary>
    public static IServiceCollection AddTopologyAdmin(this IServiceCollection services)
    {
        if (!services.Any(d => d.ServiceType == typeof(TopologyAdmin)))
        {
            services.AddDurableEngine();
        }

        services.AddFunctionsOf(typeof(TopologyFunctions));
        return services;
    }

    [Function("GetKeyspaces")]
    public static Task<IResult> GetKeyspaces(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = RoutePrefix + "/keyspaces")] HttpRequest request,
        FunctionContext context) =>
        RunAsync(request.HttpContext, context, async (admin, http, ct) =>
            Json(await admin.GetKeyspacesAsync(ct).ConfigureAwait(false)));

    [Function("CreateKeyspace")]
    public static Task<IResult> CreateKeyspace(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = RoutePrefix + "/keyspaces")] HttpRequest request,
        FunctionContext context) =>
        RunAsync(request.HttpContext, context, async (admin, http, ct) =>
        {
            var body = await ReadBodyAsync<CreateKeyspaceBody>(http, "CreateKeyspace", """{"name":"commerce","sharded":false,"sidecar_db_name":"_vt","shards":["0"]}""", ct).ConfigureAwait(false);
            var name = Required(body.Name, "name");
            var record = await admin.CreateKeyspaceAsync(name, body.Sharded ?? false, body.Shards, body.SidecarDbName ?? "_vt", ct).ConfigureAwait(false);
            var shards = await admin.Store.GetShardsAsync(name, ct).ConfigureAwait(false);
            return Json(new KeyspaceView(record.Name, record.Sharded, record.SidecarDbName, [.. shards.Select(s => s.Value.Name)]), StatusCodes.Status201Created);
        });

    [Function("GetKeyspace")]
    public static Task<IResult> GetKeyspace(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = RoutePrefix + "/keyspaces/{keyspace}")] HttpRequest request,
        FunctionContext context) =>
        RunAsync(request.HttpContext, context, async (admin, http, ct) =>
        {
            var keyspace = Route(http, "keyspace");
            var record = await admin.GetKeyspaceAsync(keyspace, ct).ConfigureAwait(false);
            var shards = await admin.Store.GetShardsAsync(keyspace, ct).ConfigureAwait(false);
            return Json(new KeyspaceView(record.Name, record.Sharded, record.SidecarDbName, [.. shards.Select(s => s.Value.Name)]));
        });

    [Function("DeleteKeyspace")]
    public static Task<IResult> DeleteKeyspace(
        [HttpTrigger(AuthorizationLevel.Function, "delete", Route = RoutePrefix + "/keyspaces/{keyspace}")] HttpRequest request,
        FunctionContext context) =>
        RunAsync(request.HttpContext, context, async (admin, http, ct) =>
        {
            var keyspace = Route(http, "keyspace");
            var recursive = QueryBool(http, "recursive");
            await admin.DeleteKeyspaceAsync(keyspace, recursive, ct).ConfigureAwait(false);
            return Json(new { deleted = keyspace, recursive });
        });

    [Function("GetShards")]
    public static Task<IResult> GetShards(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = RoutePrefix + "/keyspaces/{keyspace}/shards")] HttpRequest request,
        FunctionContext context) =>
        RunAsync(request.HttpContext, context, async (admin, http, ct) =>
        {
            var keyspace = Route(http, "keyspace");
            await admin.GetKeyspaceAsync(keyspace, ct).ConfigureAwait(false); // a missing keyspace is an error, not an empty list
            var shards = await admin.Store.GetShardsAsync(keyspace, ct).ConfigureAwait(false);
            return Json(shards.Select(s => s.Value).ToList());
        });

    [Function("CreateShard")]
    public static Task<IResult> CreateShard(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = RoutePrefix + "/keyspaces/{keyspace}/shards/{shard}")] HttpRequest request,
        FunctionContext context) =>
        RunAsync(request.HttpContext, context, async (admin, http, ct) =>
            Json(await admin.CreateShardAsync(Route(http, "keyspace"), Route(http, "shard"), ct).ConfigureAwait(false), StatusCodes.Status201Created));

    [Function("GetTablets")]
    public static Task<IResult> GetTablets(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = RoutePrefix + "/tablets")] HttpRequest request,
        FunctionContext context) =>
        RunAsync(request.HttpContext, context, async (admin, http, ct) =>
        {
            var keyspace = Query(http, "keyspace");
            var shard = Query(http, "shard");
            if (shard is not null && keyspace is null)
            {
                throw new TopologyValidationException($"shard '{shard}' was given without a keyspace; give keyspace too (a shard name means nothing on its own).");
            }

            var cells = http.Request.Query["cell"].Where(c => !string.IsNullOrEmpty(c)).Select(c => c!).ToList();
            var tablets = await admin.GetTabletsAsync(keyspace, shard, cells.Count == 0 ? null : cells, ct).ConfigureAwait(false);
            var shards = new Dictionary<(string, string), ShardRecord?>();
            var views = new List<TabletView>();
            foreach (var t in tablets.OrderBy(t => t.Keyspace, StringComparer.Ordinal).ThenBy(t => t.Shard, StringComparer.Ordinal).ThenBy(t => t.Alias, StringComparer.Ordinal))
            {
                if (!shards.TryGetValue((t.Keyspace, t.Shard), out var s))
                {
                    s = (await admin.Store.GetShardAsync(t.Keyspace, t.Shard, ct).ConfigureAwait(false))?.Value;
                    shards[(t.Keyspace, t.Shard)] = s;
                }

                views.Add(TabletView.From(t, s));
            }

            return Json(views);
        });

    [Function("AddTablet")]
    public static Task<IResult> AddTablet(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = RoutePrefix + "/tablets")] HttpRequest request,
        FunctionContext context) =>
        RunAsync(request.HttpContext, context, async (admin, http, ct) =>
        {
            var body = await ReadBodyAsync<AddTabletBody>(http, "AddTablet",
                """{"alias":"zone1-100","keyspace":"commerce","shard":"0","type":"PRIMARY","host":"127.0.0.1","port":3306,"user":"durable_filtered","password_ref":"secret:NAME"}""", ct).ConfigureAwait(false);
            var request = new AddTabletRequest(
                Required(body.Alias, "alias"), Required(body.Keyspace, "keyspace"), Required(body.Shard, "shard"), Required(body.Type, "type"),
                Required(body.Host, "host"), body.Port ?? throw new TopologyValidationException("AddTablet needs 'port' (1-65535)."),
                Required(body.User, "user"), Required(body.PasswordRef, "password_ref"), body.DbName, body.ServerId, body.AllowUpdate ?? false);
            var tablet = await admin.AddTabletAsync(request, ct).ConfigureAwait(false);
            var shard = (await admin.Store.GetShardAsync(tablet.Keyspace, tablet.Shard, ct).ConfigureAwait(false))?.Value;
            return Json(TabletView.From(tablet, shard), StatusCodes.Status201Created);
        });

    [Function("DeleteTablets")]
    public static Task<IResult> DeleteTablets(
        [HttpTrigger(AuthorizationLevel.Function, "delete", Route = RoutePrefix + "/tablets")] HttpRequest request,
        FunctionContext context) =>
        RunAsync(request.HttpContext, context, async (admin, http, ct) =>
        {
            var aliases = http.Request.Query["alias"].Where(a => !string.IsNullOrEmpty(a)).Select(a => a!).ToList();
            if (aliases.Count == 0)
            {
                throw new TopologyValidationException("DeleteTablets needs at least one alias (?alias=zone1-100&alias=zone1-101).");
            }

            var allowPrimary = QueryBool(http, "allow_primary");
            await admin.DeleteTabletsAsync(aliases, allowPrimary, ct).ConfigureAwait(false);
            return Json(new { deleted = aliases.Select(TabletRecord.CanonicalAlias).Distinct().ToList() });
        });

    [Function("GetVSchema")]
    public static Task<IResult> GetVSchema(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = RoutePrefix + "/keyspaces/{keyspace}/vschema")] HttpRequest request,
        FunctionContext context) =>
        RunAsync(request.HttpContext, context, async (admin, http, ct) =>
            RawJson(await admin.GetVSchemaAsync(Route(http, "keyspace"), ct).ConfigureAwait(false)));

    [Function("ApplyVSchema")]
    public static Task<IResult> ApplyVSchema(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = RoutePrefix + "/keyspaces/{keyspace}/vschema")] HttpRequest request,
        FunctionContext context) =>
        RunAsync(request.HttpContext, context, async (admin, http, ct) =>
        {
            var json = await ReadRawBodyAsync(http, "ApplyVSchema", "the VSchema JSON, e.g. {\"sharded\":false,\"tables\":{\"customer\":{}}}", ct).ConfigureAwait(false);
            var result = await admin.ApplyVSchemaAsync(Route(http, "keyspace"), vschemaJson: json, dryRun: QueryBool(http, "dry_run"), ct: ct).ConfigureAwait(false);
            return ApplyResponse(result, "vschema");
        });

    [Function("GetRoutingRules")]
    public static Task<IResult> GetRoutingRules(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = RoutePrefix + "/routingrules")] HttpRequest request,
        FunctionContext context) =>
        RunAsync(request.HttpContext, context, async (admin, http, ct) =>
            RawJson(await admin.GetRoutingRulesAsync(ct).ConfigureAwait(false)));

    [Function("ApplyRoutingRules")]
    public static Task<IResult> ApplyRoutingRules(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = RoutePrefix + "/routingrules")] HttpRequest request,
        FunctionContext context) =>
        RunAsync(request.HttpContext, context, async (admin, http, ct) =>
        {
            var json = await ReadRawBodyAsync(http, "ApplyRoutingRules", "the rules JSON, e.g. {\"rules\":[{\"from_table\":\"customer\",\"to_tables\":[\"commerce.customer\"]}]}", ct).ConfigureAwait(false);
            var result = await admin.ApplyRoutingRulesAsync(rulesJson: json, dryRun: QueryBool(http, "dry_run"), ct: ct).ConfigureAwait(false);
            return ApplyResponse(result, "rules");
        });

    [Function("GetMirrorRules")]
    public static Task<IResult> GetMirrorRules(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = RoutePrefix + "/mirrorrules")] HttpRequest request,
        FunctionContext context) =>
        RunAsync(request.HttpContext, context, async (admin, http, ct) =>
            RawJson(await admin.GetMirrorRulesAsync(ct).ConfigureAwait(false)));

    [Function("ApplyMirrorRules")]
    public static Task<IResult> ApplyMirrorRules(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = RoutePrefix + "/mirrorrules")] HttpRequest request,
        FunctionContext context) =>
        RunAsync(request.HttpContext, context, async (admin, http, ct) =>
        {
            var json = await ReadRawBodyAsync(http, "ApplyMirrorRules", "the rules JSON, e.g. {\"rules\":[{\"from_table\":\"commerce.customer\",\"to_table\":\"customer.customer\",\"percent\":10}]}", ct).ConfigureAwait(false);
            var result = await admin.ApplyMirrorRulesAsync(rulesJson: json, dryRun: QueryBool(http, "dry_run"), ct: ct).ConfigureAwait(false);
            return ApplyResponse(result, "rules");
        });

    [Function("MountList")]
    public static Task<IResult> MountList(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = RoutePrefix + "/mounts")] HttpRequest request,
        FunctionContext context) =>
        RunAsync(request.HttpContext, context, async (admin, http, ct) =>
            Json(await admin.MountListAsync(ct).ConfigureAwait(false)));

    [Function("MountRegister")]
    public static Task<IResult> MountRegister(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = RoutePrefix + "/mounts")] HttpRequest request,
        FunctionContext context) =>
        RunAsync(request.HttpContext, context, async (admin, http, ct) =>
        {
            var body = await ReadBodyAsync<MountBody>(http, "MountRegister",
                """{"name":"ext1","topo_type":"etcd2","topo_server":"localhost:12379","topo_root":"/vitess/global"}""", ct).ConfigureAwait(false);
            // Read the mounted root before registering: a wrong root is refused now, not at the first create.
            await TopologyAdmin.CheckMountedTopologyAsync(Required(body.TopoServer, "topo_server"), Required(body.TopoRoot, "topo_root"), ct).ConfigureAwait(false);
            var record = await admin.MountRegisterAsync(Required(body.Name, "name"), Required(body.TopoType, "topo_type"),
                Required(body.TopoServer, "topo_server"), Required(body.TopoRoot, "topo_root"), ct).ConfigureAwait(false);
            return Json(record, StatusCodes.Status201Created);
        });

    [Function("MountShow")]
    public static Task<IResult> MountShow(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = RoutePrefix + "/mounts/{name}")] HttpRequest request,
        FunctionContext context) =>
        RunAsync(request.HttpContext, context, async (admin, http, ct) =>
            Json(await admin.MountShowAsync(Route(http, "name"), ct).ConfigureAwait(false)));

    [Function("MountUnregister")]
    public static Task<IResult> MountUnregister(
        [HttpTrigger(AuthorizationLevel.Function, "delete", Route = RoutePrefix + "/mounts/{name}")] HttpRequest request,
        FunctionContext context) =>
        RunAsync(request.HttpContext, context, async (admin, http, ct) =>
        {
            var name = Route(http, "name");
            await admin.MountUnregisterAsync(name, ct).ConfigureAwait(false);
            return Json(new { unregistered = name });
        });

    // RegisterLocalCluster takes the cluster.json text (not a path: the file is on the caller's machine) and
    // registers it in this host's topology, whatever etcd endpoints the file names.
    [Function("RegisterLocalCluster")]
    public static Task<IResult> RegisterLocalCluster(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = RoutePrefix + "/localcluster")] HttpRequest request,
        FunctionContext ctx) =>
        RunAsync(request.HttpContext, ctx, async (admin, http, ct) =>
        {
            var text = await ReadRawBodyAsync(http, "RegisterLocalCluster", "the content of .local/cluster.json", ct).ConfigureAwait(false);
            var endpoints = ctx.Services.GetRequiredService<IOptions<EngineOptions>>().Value.EtcdEndpoints!.Trim();
            var path = Path.Combine(Path.GetTempPath(), "durable-cluster-" + Guid.NewGuid().ToString("N") + ".json");
            await File.WriteAllTextAsync(path, text, ct).ConfigureAwait(false);
            try
            {
                var done = await TopologyAdmin.RegisterLocalClusterAsync(path, endpoints, admin.Store.Options.Root, ct).ConfigureAwait(false);
                return Json(new { root = admin.Store.Options.Root, done });
            }
            catch (JsonException e)
            {
                throw new TopologyValidationException($"The cluster file is not valid JSON of the form {{\"cell\":...,\"tablets\":[...]}}: {e.Message} Nothing was written.");
            }
            catch (ArgumentNullException e)
            {
                // A file without "cell" or "tablets" deserializes to nulls that the registration trips over.
                throw new TopologyValidationException($"The cluster file lacks a required field ({e.ParamName}); it needs \"cell\" and \"tablets\".");
            }
            finally
            {
                File.Delete(path);
            }
        });

    /// <summary>Turns the library's exceptions into answers a caller can act on; anything else stays a 500.</summary>
    private static async Task<IResult> RunAsync(HttpContext http, FunctionContext ctx, Func<TopologyAdmin, HttpContext, CancellationToken, Task<IResult>> body)
    {
        try
        {
            // Resolved here, inside the try: a missing or invalid setting surfaces as TopologyNotConfiguredException.
            var admin = ctx.Services.GetRequiredService<TopologyAdmin>();
            return await body(admin, http, ctx.CancellationToken).ConfigureAwait(false);
        }
        catch (TopologyNotConfiguredException e)
        {
            ctx.Logger.LogError("{Function}: {Message}", ctx.FunctionName, e.Message);
            return Error(StatusCodes.Status503ServiceUnavailable, "Service Unavailable", e.Message);
        }
        catch (EtcdUnavailableException e)
        {
            ctx.Logger.LogWarning("{Function}: etcd unreachable: {Message}", ctx.FunctionName, e.Message);
            return Error(StatusCodes.Status503ServiceUnavailable, "Service Unavailable", e.Message);
        }
        catch (Exception e) when (e is TopologyConflictException or TopologyLockLostException or TopologyLockTimeoutException)
        {
            return Error(StatusCodes.Status409Conflict, "Conflict", e.Message + " Nothing was written; try again.");
        }
        catch (Exception e) when (e is TopologyValidationException or TopologyNotFoundException or VindexException or BadTopologyRequestException)
        {
            return Error(StatusCodes.Status400BadRequest, "Bad Request", e.Message);
        }
    }

    private static IResult Error(int status, string error, string message) =>
        Results.Json(new { error, message }, ResponseJson, statusCode: status);

    private static IResult Json<T>(T value, int status = StatusCodes.Status200OK) =>
        Results.Json(value, ResponseJson, statusCode: status);

    /// <summary>A document the library already formatted (as vtctldclient prints it); sent byte for byte.</summary>
    private static IResult RawJson(string json) => Results.Text(json, "application/json", Encoding.UTF8);

    /// <summary>
    /// <c>{"dry_run":..,"written":..,"revision":..,"&lt;what&gt;":{document}}</c>, with the document's text embedded
    /// as the library formatted it so that a client printing the raw element shows exactly what GetX prints.
    /// </summary>
    private static IResult ApplyResponse(ApplyResult result, string what)
    {
        var json = "{\"dry_run\":" + (result.DryRun ? "true" : "false") + ",\"written\":" + (result.Written ? "true" : "false") +
                   ",\"revision\":" + result.Revision.ToString(CultureInfo.InvariantCulture) + ",\"" + what + "\":" + result.Json + "}";
        return RawJson(json);
    }

    private static string Route(HttpContext http, string name) =>
        http.Request.RouteValues[name] as string ?? throw new BadTopologyRequestException($"The URL lacks {{{name}}}.");

    private static string? Query(HttpContext http, string name) =>
        http.Request.Query.TryGetValue(name, out var v) && !string.IsNullOrEmpty(v.ToString()) ? v.ToString() : null;

    private static bool QueryBool(HttpContext http, string name)
    {
        var text = Query(http, name);
        return text switch
        {
            null => false,
            _ when bool.TryParse(text, out var b) => b,
            _ => throw new BadTopologyRequestException($"Query parameter {name}='{text}' is not a boolean; valid: true or false."),
        };
    }

    private static string Required(string? value, string field) =>
        string.IsNullOrWhiteSpace(value) ? throw new BadTopologyRequestException($"The request body lacks '{field}'.") : value;

    private static async Task<string> ReadRawBodyAsync(HttpContext http, string function, string expected, CancellationToken ct)
    {
        using var reader = new StreamReader(http.Request.Body, Encoding.UTF8);
        var text = await reader.ReadToEndAsync(ct).ConfigureAwait(false);
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new BadTopologyRequestException($"{function} needs a request body: {expected}.");
        }

        return text;
    }

    private static async Task<T> ReadBodyAsync<T>(HttpContext http, string function, string example, CancellationToken ct)
        where T : class
    {
        var text = await ReadRawBodyAsync(http, function, "a JSON object such as " + example, ct).ConfigureAwait(false);
        try
        {
            // Named before deserializing: the serializer's own refusal of an unmapped field lists no valid ones.
            if (System.Text.Json.Nodes.JsonNode.Parse(text) is System.Text.Json.Nodes.JsonObject o && JsonFieldCheck.UnknownFields<T>(o, RequestJson) is { } unknown)
            {
                throw new BadTopologyRequestException($"{function}: {unknown}");
            }

            return JsonSerializer.Deserialize<T>(text, RequestJson)
                   ?? throw new BadTopologyRequestException($"{function} needs a JSON object such as {example}, not null.");
        }
        catch (JsonException e)
        {
            throw new BadTopologyRequestException($"{function}: the request body is not valid: {e.Message} Expected a JSON object such as {example}.");
        }
    }

    internal sealed record CreateKeyspaceBody(
        [property: JsonPropertyName("name")] string? Name,
        [property: JsonPropertyName("sharded")] bool? Sharded,
        [property: JsonPropertyName("sidecar_db_name")] string? SidecarDbName,
        [property: JsonPropertyName("shards")] IReadOnlyList<string>? Shards);

    internal sealed record AddTabletBody(
        [property: JsonPropertyName("alias")] string? Alias,
        [property: JsonPropertyName("keyspace")] string? Keyspace,
        [property: JsonPropertyName("shard")] string? Shard,
        [property: JsonPropertyName("type")] string? Type,
        [property: JsonPropertyName("host")] string? Host,
        [property: JsonPropertyName("port")] int? Port,
        [property: JsonPropertyName("user")] string? User,
        [property: JsonPropertyName("password_ref")] string? PasswordRef,
        [property: JsonPropertyName("db_name")] string? DbName,
        [property: JsonPropertyName("server_id")] long? ServerId,
        [property: JsonPropertyName("allow_update")] bool? AllowUpdate);

    internal sealed record MountBody(
        [property: JsonPropertyName("name")] string? Name,
        [property: JsonPropertyName("topo_type")] string? TopoType,
        [property: JsonPropertyName("topo_server")] string? TopoServer,
        [property: JsonPropertyName("topo_root")] string? TopoRoot);
}

/// <summary>A keyspace with the names of its shards.</summary>
public sealed record KeyspaceView(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("sharded")] bool Sharded,
    [property: JsonPropertyName("sidecar_db_name")] string SidecarDbName,
    [property: JsonPropertyName("shards")] IReadOnlyList<string> Shards);

/// <summary>
/// A tablet as GetTablets lists it, in the columns of Vitess's tablet table. <see cref="State"/> is the topology's
/// serving state (a PRIMARY serves when its shard says is_primary_serving; a replica serves once registered), not a
/// health check: the tablet picker probes health when it needs a tablet.
/// </summary>
public sealed record TabletView(
    [property: JsonPropertyName("cell")] string Cell,
    [property: JsonPropertyName("keyspace")] string Keyspace,
    [property: JsonPropertyName("shard")] string Shard,
    [property: JsonPropertyName("tablet_type")] string TabletType,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("alias")] string Alias,
    [property: JsonPropertyName("hostname")] string Hostname,
    [property: JsonPropertyName("port")] int Port,
    [property: JsonPropertyName("db_name")] string DbName,
    [property: JsonPropertyName("user")] string User,
    [property: JsonPropertyName("password_ref")] string PasswordRef,
    [property: JsonPropertyName("server_id")] long? ServerId)
{
    public static TabletView From(TabletRecord t, ShardRecord? shard)
    {
        var state = t.Type == "PRIMARY"
            ? shard is { IsPrimaryServing: true } && shard.PrimaryAlias == t.Alias ? "SERVING" : "NOT_SERVING"
            : shard is null ? "NOT_SERVING" : "SERVING";
        return new TabletView(t.Cell, t.Keyspace, t.Shard, t.Type, state, t.Alias, t.Host, t.Port, t.DbName, t.User, t.PasswordRef, t.ServerId);
    }
}

/// <summary>A malformed HTTP request to a topology function (missing body or field, bad query value): a 400.</summary>
public sealed class BadTopologyRequestException(string message) : Exception(message);
