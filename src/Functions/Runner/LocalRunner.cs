using System.Globalization;
using Durable.Composition;
using Durable.Functions.Http;
using Durable.Functions.Telemetry;
using Durable.Functions.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Durable.Functions.Runner;

/// <summary>
/// Builds the local runner: the app's <c>[Function]</c> classes served without the Azure Functions host. An ASP.NET Core
/// app that reads host.json and local.settings.json as Functions does, listens on port 7071 unless --urls/ASPNETCORE_URLS
/// say otherwise, maps HTTP triggers under /api, the durable management API under /runtime/webhooks/durabletask,
/// /healthz, /readyz and /metrics, runs queue and timer triggers as hosted services and the orchestrations and
/// activities on the durable engine, and stops gracefully.
/// </summary>
public static class LocalRunner
{
    /// <summary>Creates the builder with configuration, settings and the host's services; add functions before <see cref="Build"/>.</summary>
    public static WebApplicationBuilder CreateBuilder(string[] args)
    {
        // appsettings.json is read beside the program, once (UnwatchedContentRoot); host.json and local.settings.json
        // from the script root.
        var builder = WebApplication.CreateBuilder(UnwatchedContentRoot.WebOptions(args));
        var configuration = builder.Configuration;
        var scriptRoot = FindScriptRoot(configuration[FunctionsHostSettings.ScriptRootSetting]);

        var local = scriptRoot is null ? null : LocalSettings.LoadIfExists(scriptRoot);
        var hostJsonPath = scriptRoot is null ? null : Path.Combine(scriptRoot, "host.json");
        var hostJson = hostJsonPath is not null && File.Exists(hostJsonPath) ? HostJson.Load(hostJsonPath) : new HostJson();

        // Lowest precedence first: host.json logging levels, then local.settings.json Values; appsettings, the
        // environment and the command line (already in the builder) all override them.
        var low = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (category, level) in hostJson.LogLevels)
        {
            low[$"Logging:LogLevel:{(string.Equals(category, "default", StringComparison.OrdinalIgnoreCase) ? "Default" : category)}"] = level;
        }

        foreach (var (k, v) in local?.Values ?? new Dictionary<string, string>())
        {
            low[k] = v;
        }

        ((IConfigurationBuilder)configuration).Sources.Insert(0, new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource { InitialData = low });

        if (string.IsNullOrEmpty(configuration[WebHostDefaults.ServerUrlsKey]) &&
            string.IsNullOrEmpty(configuration["HTTP_PORTS"]) && string.IsNullOrEmpty(configuration["HTTPS_PORTS"]))
        {
            builder.WebHost.UseUrls($"http://localhost:{local?.LocalHttpPort ?? FunctionsHostSettings.DefaultPort}");
        }

        var settings = new FunctionsHostSettings
        {
            HostJson = hostJson,
            HubName = ResolveHubName(hostJson, configuration),
            ScriptRoot = scriptRoot,
            ReplicaId = configuration[FunctionsHostSettings.ReplicaIdSetting] is { Length: > 0 } id
                ? id
                : $"{Environment.MachineName}-{Environment.ProcessId}",
            ShutdownTimeout = ShutdownTimeout(configuration),
        };

        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton(hostJson);
        builder.Services.AddSingleton(sp => FunctionKeys.FromConfiguration(sp.GetRequiredService<IConfiguration>()));
        builder.Services.AddDurableTelemetry(configuration, settings.ReplicaId);
        builder.Services.AddSingleton(sp =>
        {
            var name = settings.StorageConnectionSettingName;
            return AzureTriggerStorage.FromConnectionString(sp.GetRequiredService<IConfiguration>()[name] ?? "", name, settings.HubName.ToLowerInvariant() + "-timers");
        });
        builder.Services.AddSingleton<ITriggerQueues>(sp => sp.GetRequiredService<AzureTriggerStorage>());
        builder.Services.AddSingleton<IScheduleStore>(sp => sp.GetRequiredService<AzureTriggerStorage>());
        builder.Services.AddSingleton<FunctionCatalog>();
        builder.Services.AddSingleton<TriggerRegistry>();
        builder.Services.AddHostedService<TriggerHostService>();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = settings.ShutdownTimeout);
        DurableRuntime.AddDurableRuntime(builder.Services, settings);
        CheckWorkerRuntime(configuration);
        return builder;
    }

    /// <summary>Builds the app and maps every endpoint; fails fast if a function or setting is invalid.</summary>
    public static WebApplication Build(WebApplicationBuilder builder)
    {
        var app = builder.Build();
        // Resolving the registry validates every function (names, routes, queues, schedules) before anything listens.
        var registry = app.Services.GetRequiredService<TriggerRegistry>();
        app.UseFunctionRequestMetrics();
        RunnerReadiness.Map(app);
        HttpTriggerEndpoints.Map(app, registry);
        Management.ManagementApi.Map(app);
        app.MapDurableMetrics();
        return app;
    }

    /// <summary>
    /// The directory holding host.json: the AzureWebJobsScriptRoot setting if given (it must exist), else the
    /// current directory or the executable's directory, whichever has a host.json; null when neither has one.
    /// </summary>
    public static string? FindScriptRoot(string? configured)
    {
        if (!string.IsNullOrEmpty(configured))
        {
            return Directory.Exists(configured)
                ? Path.GetFullPath(configured)
                : throw new HostJsonException($"{FunctionsHostSettings.ScriptRootSetting} is '{configured}', which is not a directory; point it at the folder holding host.json.");
        }

        foreach (var dir in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            if (File.Exists(Path.Combine(dir, "host.json")))
            {
                return Path.GetFullPath(dir);
            }
        }

        return null;
    }

    /// <summary>FUNCTIONS_WORKER_RUNTIME is kept for Azure tooling; anything but .NET means the settings belong to another app.</summary>
    private static void CheckWorkerRuntime(IConfiguration configuration)
    {
        var runtime = configuration["FUNCTIONS_WORKER_RUNTIME"];
        if (!string.IsNullOrEmpty(runtime) && runtime is not ("dotnet-isolated" or "dotnet"))
        {
            throw new HostJsonException($"FUNCTIONS_WORKER_RUNTIME is '{runtime}'; this host runs .NET functions in-process: use dotnet-isolated (or leave it unset).");
        }
    }

    private static string ResolveHubName(HostJson hostJson, IConfiguration configuration)
    {
        var hub = FunctionsHostSettings.Resolve(hostJson.DurableTask.HubName, configuration, "extensions.durableTask.hubName");
        return HostJson.IsValidHubName(hub)
            ? hub
            : throw new HostJsonException($"extensions.durableTask.hubName resolves to '{hub}', not a valid task hub name; valid: 3-45 letters and digits starting with a letter.");
    }

    private static TimeSpan ShutdownTimeout(IConfiguration configuration)
    {
        var text = configuration[FunctionsHostSettings.ShutdownTimeoutSetting];
        if (string.IsNullOrEmpty(text))
        {
            return TimeSpan.FromSeconds(30);
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var s) && s is >= 1 and <= 3600
            ? TimeSpan.FromSeconds(s)
            : throw new HostJsonException($"{FunctionsHostSettings.ShutdownTimeoutSetting} is '{text}'; valid: whole seconds from 1 to 3600.");
    }
}
