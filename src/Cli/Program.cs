using Durable.Cli;

// durablectl: vtctldclient-style commands over the Functions host's HTTP API.
return await DurableCtl.RunAsync(args, Console.Out, Console.Error, Environment.GetEnvironmentVariable);
