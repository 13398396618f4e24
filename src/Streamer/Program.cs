// The Streamer: a long-running worker that applies binlog events for Running streams (issue 6 fills in the work).
var builder = Host.CreateApplicationBuilder(args);
var host = builder.Build();
await host.RunAsync();
