using System.CommandLine;

// durablectl: vtctldclient-style commands over the Functions host's HTTP API.
var root = new RootCommand("durablectl: move tables between keyspaces online (MoveTables, VDiff, Migrate) through the Durable HTTP API.");
return await root.Parse(args).InvokeAsync();
