namespace Durable.Gateway;

/// <summary>What the gateway tells clients it is: the backends' MariaDB version with <c>-Durable-gateway</c> appended.</summary>
internal sealed class GatewayServerInfo(string version)
{
    public const byte Utf8Mb4GeneralCi = 45;

    public string Version { get; } = version;

    public static string FromBackend(string backendVersion) =>
        (backendVersion.Length > 0 ? backendVersion : "10.11.0-MariaDB") + "-Durable-gateway";
}
