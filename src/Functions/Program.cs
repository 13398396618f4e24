// The Functions host. The durable runtime, triggers and the HTTP management API are added by the runtime work (issue 5);
// until then the host answers its health endpoint so the local cluster can start and probe it.
var builder = WebApplication.CreateBuilder(args);
var app = builder.Build();
app.MapGet("/api/health", () => Results.Ok(new { status = "ok" }));
app.Run();
