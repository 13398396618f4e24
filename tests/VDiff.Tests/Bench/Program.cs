// The test project's entry point (the test SDK's generated one is switched off in the csproj): `dotnet
// Durable.VDiff.Tests.dll bench ...` runs the VDiff benchmark driver; test runners never call Main.
namespace Durable.VDiff.Tests.Bench;

public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "bench")
        {
            return await VDiffBench.RunAsync(args[1..]).ConfigureAwait(false);
        }

        await Console.Error.WriteLineAsync(VDiffBench.Usage).ConfigureAwait(false);
        return 2;
    }
}
