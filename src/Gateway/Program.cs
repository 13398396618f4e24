// The gateway (vtgate's role): one MySQL endpoint for applications. It follows the topology through etcd (routing
// rules, keyspaces, tablets, cutover holds), routes every statement to a keyspace's tablet and holds statements while
// traffic switches. Settings: section Gateway (see GatewaySettings and docs/gateway.md).
using Durable.Gateway;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;

var configuration = new ConfigurationBuilder()
    .AddJsonFile("appsettings.json", optional: true)
    .AddEnvironmentVariables()
    .AddCommandLine(args)
    .Build();
GatewaySettings settings;
try
{
    settings = GatewaySettings.From(configuration);
}
catch (GatewaySettingsException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}

if (settings.InlineIo)
{
    // Read once, when the runtime's socket engine first starts: before any socket (etcd, Kestrel) exists.
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
}

await using var composition = GatewayComposition.Create(settings, configuration);
var app = GatewayApp.Build(settings, composition.Routing, args);
await app.RunAsync();
return 0;
