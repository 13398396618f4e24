using Durable.Functions.App;
using Durable.Functions.Hosting;

// The Functions host: `dotnet run --project src/Functions` listens on http://localhost:7071 (or --urls), reads host.json
// and local.settings.json from AzureWebJobsScriptRoot (default: the current directory), and runs the app's functions.
var builder = FunctionsHost.CreateBuilder(args);
builder.Services.AddDurableApp(builder.Configuration);
Durable.Functions.MoveTables.MoveTablesFunctions.AddMoveTables(builder.Services, builder.Configuration);
Durable.Functions.VDiff.VDiffFunctions.AddVDiff(builder.Services, builder.Configuration);
Durable.Functions.Topology.TopologyFunctions.AddTopologyAdmin(builder.Services);
var app = FunctionsHost.Build(builder);
await app.RunAsync();

/// <summary>Visible to tests (WebApplicationFactory&lt;Program&gt;).</summary>
public partial class Program;
