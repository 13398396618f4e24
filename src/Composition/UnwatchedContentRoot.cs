using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;

namespace Durable.Composition;

/// <summary>
/// The builder options of the Functions runner and the Streamer: the content root is the program's own directory and
/// the configuration files are read once, not watched. The defaults (the working directory, watched recursively for
/// appsettings changes) put a FileSystemWatcher on whatever directory the process starts in. Started from a checkout,
/// that is the repository with the local cluster's data directories, binlogs and logs under it: the watcher thread woke
/// on every server write and took 4–5% of a core per process during the cutover benchmark (perf, 2026-12-07), on a
/// machine where six such processes run. Settings changes take a restart, as they already did for everything the
/// processes read at start (the engine's options are bound once).
/// </summary>
public static class UnwatchedContentRoot
{
    private const string NoReload = "--hostBuilder:reloadConfigOnChange=false";

    public static WebApplicationOptions WebOptions(string[] args) => new() { Args = [.. args, NoReload], ContentRootPath = AppContext.BaseDirectory };

    public static HostApplicationBuilderSettings HostSettings(string[] args) => new() { Args = [.. args, NoReload], ContentRootPath = AppContext.BaseDirectory };
}
