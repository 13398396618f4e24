namespace Durable.AzureStorage;

/// <summary>
/// An Azure Storage account as named by a connection string: account name, Shared Key and the blob/queue endpoints.
/// Accepts the Azure form (<c>DefaultEndpointsProtocol=https;AccountName=..;AccountKey=..;EndpointSuffix=..</c>), explicit
/// <c>BlobEndpoint=</c>/<c>QueueEndpoint=</c> (Azurite on any port), and <c>UseDevelopmentStorage=true</c>.
/// </summary>
public sealed class StorageAccount
{
    /// <summary>Azurite's well-known development account (public, documented by Microsoft; not a secret).</summary>
    public const string DevelopmentAccountName = "devstoreaccount1";

    public const string DevelopmentAccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private StorageAccount(string name, byte[] key, Uri blobEndpoint, Uri queueEndpoint)
    {
        Name = name;
        Key = key;
        BlobEndpoint = blobEndpoint;
        QueueEndpoint = queueEndpoint;
    }

    public string Name { get; }

    internal byte[] Key { get; }

    public Uri BlobEndpoint { get; }

    public Uri QueueEndpoint { get; }

    public static StorageAccount Parse(string connectionString)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new ArgumentException("The storage connection string is empty; set AzureWebJobsStorage (e.g. 'UseDevelopmentStorage=true').", nameof(connectionString));
        }

        var parts = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var raw in connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = raw.IndexOf('=');
            if (eq <= 0)
            {
                // Never echo the whole string: it holds the key.
                throw new FormatException($"Storage connection string part '{Redact(raw)}' is not 'Name=Value'.");
            }

            parts[raw[..eq].Trim()] = raw[(eq + 1)..].Trim();
        }

        if (parts.TryGetValue("UseDevelopmentStorage", out var dev) && dev.Equals("true", StringComparison.OrdinalIgnoreCase))
        {
            var proxy = parts.TryGetValue("DevelopmentStorageProxyUri", out var p) ? new Uri(p) : new Uri("http://127.0.0.1");
            return new StorageAccount(
                DevelopmentAccountName,
                Convert.FromBase64String(DevelopmentAccountKey),
                new Uri($"{proxy.Scheme}://{proxy.Host}:10000/{DevelopmentAccountName}"),
                new Uri($"{proxy.Scheme}://{proxy.Host}:10001/{DevelopmentAccountName}"));
        }

        if (!parts.TryGetValue("AccountName", out var name) || name.Length == 0)
        {
            throw new FormatException("The storage connection string has no AccountName (expected AccountName=...;AccountKey=... or UseDevelopmentStorage=true).");
        }

        if (!parts.TryGetValue("AccountKey", out var keyText) || keyText.Length == 0)
        {
            throw new FormatException($"The storage connection string for account '{name}' has no AccountKey; Shared Key authentication needs it.");
        }

        byte[] key;
        try
        {
            key = Convert.FromBase64String(keyText);
        }
        catch (FormatException)
        {
            throw new FormatException($"The AccountKey for storage account '{name}' is not valid base64.");
        }

        var protocol = parts.TryGetValue("DefaultEndpointsProtocol", out var proto) ? proto.ToLowerInvariant() : "https";
        if (protocol is not ("http" or "https"))
        {
            throw new FormatException($"DefaultEndpointsProtocol '{proto}' is invalid; use http or https.");
        }

        var suffix = parts.TryGetValue("EndpointSuffix", out var s) ? s : "core.windows.net";
        var blob = parts.TryGetValue("BlobEndpoint", out var b) ? ParseEndpoint(b, "BlobEndpoint") : new Uri($"{protocol}://{name}.blob.{suffix}");
        var queue = parts.TryGetValue("QueueEndpoint", out var q) ? ParseEndpoint(q, "QueueEndpoint") : new Uri($"{protocol}://{name}.queue.{suffix}");
        return new StorageAccount(name, key, blob, queue);
    }

    private static Uri ParseEndpoint(string value, string what) =>
        Uri.TryCreate(value.TrimEnd('/'), UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? uri
            : throw new FormatException($"{what} '{value}' is not an absolute http(s) URL.");

    private static string Redact(string part) =>
        part.StartsWith("AccountKey", StringComparison.OrdinalIgnoreCase) ? "AccountKey=***" : part;

    public override string ToString() => $"{Name} (blob {BlobEndpoint}, queue {QueueEndpoint})";
}
