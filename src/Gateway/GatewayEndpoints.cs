using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Durable.Gateway;

/// <summary>The ports the gateway listens on, as bound (a configured 0 becomes the port the OS chose once Kestrel started).</summary>
public sealed class GatewayEndpoints
{
    internal ListenOptions? MySql { get; set; }

    internal ListenOptions? Http { get; set; }

    public int MySqlPort => (MySql?.EndPoint as IPEndPoint)?.Port ?? 0;

    public int HttpPort => (Http?.EndPoint as IPEndPoint)?.Port ?? 0;
}
