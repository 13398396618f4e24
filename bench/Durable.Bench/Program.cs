// Benchmark programs run by bench/run.sh. Each benchmark prints one line "value UNIT" on stdout for the harness.
Console.Error.WriteLine("usage: Durable.Bench NAME  (no benchmarks are registered yet)");
return 2;
