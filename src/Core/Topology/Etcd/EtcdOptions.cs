namespace Durable.Topology.Etcd;

/// <summary>How to reach etcd. Endpoints are tried in order; a failed one sends the request to the next.</summary>
public sealed class EtcdOptions
{
    /// <summary>Client URLs, e.g. <c>http://127.0.0.1:2379</c> or <c>https://etcd-1:2379</c>.</summary>
    public required IReadOnlyList<Uri> Endpoints { get; init; }

    /// <summary>Optional etcd user; with it, <see cref="Password"/> is sent once to obtain a token.</summary>
    public string? User { get; init; }

    /// <summary>The password itself, resolved by the caller from secrets; never logged or stored in the topology.</summary>
    public string? Password { get; init; }

    /// <summary>A PEM file of the CA that signed the etcd server certificates (https endpoints).</summary>
    public string? CaCertificateFile { get; init; }

    /// <summary>PEM certificate and key files for client-certificate authentication (https endpoints).</summary>
    public string? ClientCertificateFile { get; init; }

    public string? ClientKeyFile { get; init; }

    /// <summary>Per-request limit for unary calls (watches and keep-alive streams are not bounded by it).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Parses a comma-separated endpoint list, naming any entry that is not an http(s) URL.</summary>
    public static IReadOnlyList<Uri> ParseEndpoints(string commaSeparated)
    {
        var endpoints = new List<Uri>();
        foreach (var part in commaSeparated.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(part, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
            {
                throw new ArgumentException($"etcd endpoint '{part}' is not an http:// or https:// URL (e.g. http://127.0.0.1:2379).");
            }

            endpoints.Add(uri);
        }

        return endpoints.Count > 0
            ? endpoints
            : throw new ArgumentException("No etcd endpoint given; expected e.g. http://127.0.0.1:2379[,http://host2:2379].");
    }
}
