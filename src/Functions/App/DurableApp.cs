using Durable.Functions.Hosting;
using Durable.Functions.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Durable.Functions.App;

/// <summary>The app's own functions: what the Durable service exposes beyond the management API.</summary>
public static class DurableApp
{
    public static IServiceCollection AddDurableApp(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddFunction(new HttpTriggerFunction("Health", "health", ["GET"], AuthorizationLevel.Anonymous,
            (http, ctx) => Task.FromResult(Results.Ok(new { status = "ok" }))));
        return services;
    }

    public static IServiceCollection AddFunction(this IServiceCollection services, FunctionDefinition function) =>
        services.AddSingleton(function);
}
