using System.Diagnostics;
using Durable.Functions.Runner;
using Durable.Functions.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Durable.Functions.Http;

/// <summary>Maps HTTP-triggered functions under /api and guards them with function keys.</summary>
public static class HttpTriggerEndpoints
{
    public static void Map(WebApplication app, TriggerRegistry registry)
    {
        var api = app.MapGroup("/api");
        foreach (var function in registry.Http)
        {
            var f = function;
            api.MapMethods("/" + f.Route, f.Methods, async (HttpContext http) =>
            {
                var logger = http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger($"Function.{f.Name}");
                var metrics = http.RequestServices.GetRequiredService<FunctionsMetrics>();
                // host.json functionTimeout bounds HTTP triggers too; the handler sees it through its context's token.
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
                var limit = http.RequestServices.GetRequiredService<FunctionsHostSettings>().HostJson.FunctionTimeout;
                if (limit is { } l)
                {
                    timeout.CancelAfter(l);
                }

                var context = new RunnerFunctionContext(f.Name, http.TraceIdentifier, http.RequestServices, timeout.Token,
                    http.Request.RouteValues.ToDictionary(v => v.Key, v => v.Value));
                var watch = Stopwatch.StartNew();
                try
                {
                    var result = await f.Handler(http, context).ConfigureAwait(false);
                    metrics.RecordInvocation(f.Name, "http", "succeeded", watch.Elapsed);
                    return result;
                }
                catch (OperationCanceledException) when (timeout.IsCancellationRequested && !http.RequestAborted.IsCancellationRequested)
                {
                    metrics.RecordInvocation(f.Name, "http", "cancelled", watch.Elapsed);
                    logger.LogError("Function {Function} exceeded functionTimeout {Timeout} (invocation {InvocationId}).", f.Name, limit, context.InvocationId);
                    return Results.Json(
                        new { error = "Internal Server Error", message = $"Function '{f.Name}' exceeded host.json functionTimeout {limit:c} (invocation {context.InvocationId})." },
                        Management.ManagementApi.Json, statusCode: StatusCodes.Status500InternalServerError);
                }
                catch (Exception e) when (!http.RequestAborted.IsCancellationRequested)
                {
                    // Callers get the invocation id to quote, not the exception (it may carry internals); the log has it all.
                    metrics.RecordInvocation(f.Name, "http", "failed", watch.Elapsed);
                    logger.LogError(e, "Function {Function} failed (invocation {InvocationId}).", f.Name, context.InvocationId);
                    return Results.Json(
                        new { error = "Internal Server Error", message = $"Function '{f.Name}' failed; see the host log for invocation {context.InvocationId}." },
                        Management.ManagementApi.Json, statusCode: StatusCodes.Status500InternalServerError);
                }
            }).RequireFunctionKey(f.Name, f.AuthLevel).WithName(f.Name);
        }
    }

    /// <summary>Counts every request to a function endpoint by function and final status code.</summary>
    public static void UseFunctionRequestMetrics(this WebApplication app) =>
        app.Use(async (http, next) =>
        {
            await next(http).ConfigureAwait(false);
            if (http.GetEndpoint()?.Metadata.GetMetadata<FunctionEndpointMetadata>() is { } function)
            {
                http.RequestServices.GetRequiredService<FunctionsMetrics>().HttpRequests.Add(1,
                    new("function", function.FunctionName), new("status", http.Response.StatusCode));
            }
        });

    /// <summary>Adds the key check: 401 with a JSON body naming what is missing unless the key opens the function.</summary>
    public static TBuilder RequireFunctionKey<TBuilder>(this TBuilder builder, string functionName, AuthorizationLevel level)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new FunctionEndpointMetadata(functionName)).AddEndpointFilter(async (ctx, next) =>
        {
            var http = ctx.HttpContext;
            var keys = http.RequestServices.GetRequiredService<FunctionKeys>();
            var check = keys.Check(functionName, level, PresentedKey(http.Request));
            if (!check.IsAllowed)
            {
                return Results.Json(new { error = "Unauthorized", reason = check.Outcome.ToString(), message = check.Message }, Management.ManagementApi.Json, statusCode: StatusCodes.Status401Unauthorized);
            }

            return await next(ctx).ConfigureAwait(false);
        });

    /// <summary>The key from the x-functions-key header, else the code query parameter.</summary>
    public static string? PresentedKey(HttpRequest request)
    {
        if (request.Headers.TryGetValue(FunctionKeys.HeaderName, out var header) && !string.IsNullOrEmpty(header))
        {
            return header.ToString();
        }

        return request.Query.TryGetValue(FunctionKeys.QueryName, out var code) && !string.IsNullOrEmpty(code) ? code.ToString() : null;
    }
}

/// <summary>Marks an endpoint as belonging to a function (for request metrics).</summary>
public sealed record FunctionEndpointMetadata(string FunctionName);
