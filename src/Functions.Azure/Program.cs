using Durable.Functions.App;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Hosting;

// The isolated worker the Azure Functions host starts: ASP.NET Core integration for the HTTP triggers, the durable
// extension's client and triggers (the host runs the task hub), and the app's composition root for the services
// the function classes take through their constructors.
var builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();
builder.Services.AddDurableFunctionsApp(builder.Configuration);
builder.Build().Run();
