using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Durable.Cli.Infrastructure;

public enum OutputFormat
{
    Text,
    Json,
}

/// <summary>Exit codes, stable for scripts.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int Usage = 2;
    public const int NotFound = 3;
    public const int Unauthorized = 4;
    public const int HostUnreachable = 5;
}

/// <summary>
/// What every command shares: the global --server and --format options, the environment, the output writers and a
/// factory for the host client. A command group receives this context and adds its commands to the root, so the
/// topology, MoveTables and VDiff groups plug in without touching the others.
/// </summary>
public sealed class CliContext
{
    private readonly Func<string, string?> _environment;

    /// <summary>An environment variable, read through the lookup the CLI was started with (tests pass their own).</summary>
    public string? EnvironmentVariable(string name) => _environment(name);
    private readonly Func<HttpMessageHandler>? _handlerFactory;

    public CliContext(TextWriter output, TextWriter error, Func<string, string?> environment, Func<HttpMessageHandler>? handlerFactory = null)
    {
        Output = output;
        Error = error;
        _environment = environment;
        _handlerFactory = handlerFactory;
        Server = new Option<string>("--server")
        {
            Description = $"Durable host URL (default {DurableHostClient.DefaultServer}, or ${DurableHostClient.ServerEnvironmentVariable}).",
            Recursive = true,
        };
        Format = new Option<OutputFormat>("--format")
        {
            Description = "Output format: text or json.",
            DefaultValueFactory = _ => OutputFormat.Text,
            Recursive = true,
        };
    }

    public TextWriter Output { get; }

    public TextWriter Error { get; }

    public Option<string> Server { get; }

    public Option<OutputFormat> Format { get; }

    /// <summary>
    /// Indented JSON as vtctldclient prints it: backticks, quotes and angle brackets as they are (the default encoder
    /// escapes them as \u0060 and the like, which is safe in HTML but unreadable in a terminal and in the seeds' JSON).
    /// </summary>
    public static readonly JsonSerializerOptions Pretty = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The --format the user asked for: errors follow it even where a command prints its data as JSON anyway.</summary>
    private OutputFormat _requestedFormat = OutputFormat.Text;

    /// <summary>
    /// Prints an error: "durablectl: MESSAGE" on stderr, or under --format json {"error": KIND, "message": MESSAGE} there,
    /// so a script reading JSON gets JSON for a failure too.
    /// </summary>
    public void WriteError(OutputFormat format, string error, string message)
    {
        Error.WriteLine(format == OutputFormat.Json
            ? JsonSerializer.Serialize(new Dictionary<string, string> { ["error"] = error, ["message"] = message }, Pretty)
            : "durablectl: " + message);
    }

    /// <summary><see cref="WriteError(OutputFormat, string, string)"/> in the format of the command line being run.</summary>
    public void WriteError(string error, string message) => WriteError(_requestedFormat, error, message);

    public DurableHostClient CreateClient(ParseResult parse)
    {
        var server = parse.GetValue(Server);
        if (string.IsNullOrEmpty(server))
        {
            server = _environment(DurableHostClient.ServerEnvironmentVariable);
        }

        if (string.IsNullOrEmpty(server))
        {
            server = DurableHostClient.DefaultServer;
        }

        // vtctldclient's --server is HOST:PORT (the seeds' vtctld.host:15999); durablectl's a URL: both are taken.
        var url = VtctlArguments.ServerUrl(server);
        if (!Uri.TryCreate(url.EndsWith('/') ? url : url + "/", UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
        {
            throw new UsageException($"--server '{server}' is not a valid URL; expected e.g. {DurableHostClient.DefaultServer} or HOST:PORT (localhost:7071).");
        }

        var http = _handlerFactory is null ? new HttpClient() : new HttpClient(_handlerFactory(), disposeHandler: true);
        http.Timeout = TimeSpan.FromSeconds(100);
        return new DurableHostClient(http, uri, _environment(DurableHostClient.KeyEnvironmentVariable));
    }

    /// <summary>Wraps a command body: maps "host down", usage errors and cancellation to clear messages and exit codes.</summary>
    public Func<ParseResult, CancellationToken, Task<int>> Run(Func<ParseResult, DurableHostClient, OutputFormat, CancellationToken, Task<int>> body) =>
        async (parse, ct) =>
        {
            _requestedFormat = parse.GetValue(Format);
            try
            {
                var client = CreateClient(parse);
                return await body(parse, client, _requestedFormat, ct).ConfigureAwait(false);
            }
            catch (HostUnreachableException e)
            {
                WriteError("host_unreachable", e.Message);
                return ExitCodes.HostUnreachable;
            }
            catch (UsageException e)
            {
                WriteError("usage", e.Message);
                return ExitCodes.Usage;
            }
        };

    /// <summary>Prints a host response: the body in the chosen format on success, a one-line error otherwise.</summary>
    public async Task<int> ReportAsync(HostResponse response, OutputFormat format, Func<JsonElement, string>? text = null, string? what = null)
    {
        if (!response.IsSuccess)
        {
            var message = response.Body is { ValueKind: JsonValueKind.Object } b && b.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String
                ? m.GetString()
                : response.RawBody.Length > 0 ? response.RawBody.Trim() : response.Status.ToString();
            if (response.Status == System.Net.HttpStatusCode.Unauthorized)
            {
                WriteError($"{(int)response.Status} {response.Status}",
                    _requestedFormat == OutputFormat.Json
                        ? $"{what ?? "request"} failed: {message}. Set {DurableHostClient.KeyEnvironmentVariable} to the host's function key (DURABLE_HOST_KEY on the host)."
                        : $"{what ?? "request"} failed: {(int)response.Status} {response.Status}: {message}\ndurablectl: set {DurableHostClient.KeyEnvironmentVariable} to the host's function key (DURABLE_HOST_KEY on the host).");
                return ExitCodes.Unauthorized;
            }

            WriteError($"{(int)response.Status} {response.Status}",
                _requestedFormat == OutputFormat.Json ? message ?? "" : $"{what ?? "request"} failed: {(int)response.Status} {response.Status}: {message}");

            return response.Status == System.Net.HttpStatusCode.NotFound ? ExitCodes.NotFound : ExitCodes.Failed;
        }

        if (format == OutputFormat.Json)
        {
            await Output.WriteLineAsync(response.Body is { } body ? JsonSerializer.Serialize(body, Pretty) : response.RawBody).ConfigureAwait(false);
        }
        else
        {
            await Output.WriteLineAsync(response.Body is { } body && text is not null ? text(body) : response.RawBody).ConfigureAwait(false);
        }

        return ExitCodes.Ok;
    }
}

public sealed class UsageException(string message) : Exception(message);

/// <summary>A set of related commands (instances, topology, MoveTables, VDiff) that adds itself to the root.</summary>
public interface ICommandGroup
{
    void AddTo(RootCommand root, CliContext context);
}
