using Durable.Functions.App;
using Durable.Functions.Runner;

// The local runner: `dotnet run --project src/Functions` serves the app's [Function] classes without the Azure Functions
// host, on http://localhost:7071 (or --urls), reading host.json and local.settings.json from AzureWebJobsScriptRoot
// (default: the current directory). src/Functions.Azure builds the same classes for Azure Functions.
var builder = LocalRunner.CreateBuilder(args);
builder.Services.AddDurableFunctionsApp(builder.Configuration);
var app = LocalRunner.Build(builder);
await app.RunAsync();

/// <summary>Visible to tests (WebApplicationFactory&lt;Program&gt;).</summary>
public partial class Program;
