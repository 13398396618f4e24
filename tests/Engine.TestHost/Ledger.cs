using System.Text;

namespace Durable.Engine.TestHost;

/// <summary>
/// The two files a step writes: every run (so a test sees at-least-once delivery) and its effect, inserted once per
/// (instance, step) as an idempotent write keyed by them would be (so a test sees whether an effect ever happened
/// twice or never). Hosts in other processes share the files: every write holds an exclusive lock on the file
/// (flock on Linux), and a killed host's lock goes with it.
/// </summary>
internal sealed class Ledger(string directory)
{
    private readonly string _runs = Path.Combine(directory, HostContract.RunsFile);
    private readonly string _effects = Path.Combine(directory, HostContract.EffectsFile);

    public Task RunAsync(string instanceId, int step) =>
        WithExclusiveAsync(_runs, async file =>
        {
            file.Seek(0, SeekOrigin.End);
            await WriteLineAsync(file, HostContract.RunLine(instanceId, step));
            return true;
        });

    /// <summary>Inserts the effect unless it is there already; false when an earlier run inserted it.</summary>
    public Task<bool> EffectOnceAsync(string instanceId, int step, string workerId) =>
        WithExclusiveAsync(_effects, async file =>
        {
            var key = HostContract.EffectLine(instanceId, step) + " ";
            using (var reader = new StreamReader(file, Encoding.UTF8, leaveOpen: true))
            {
                while (await reader.ReadLineAsync() is { } line)
                {
                    if (line.StartsWith(key, StringComparison.Ordinal))
                    {
                        return false;
                    }
                }
            }

            file.Seek(0, SeekOrigin.End);
            await WriteLineAsync(file, key + "by " + workerId);
            return true;
        });

    private static async Task WriteLineAsync(FileStream file, string line)
    {
        await file.WriteAsync(Encoding.UTF8.GetBytes(line + "\n"));
        // On disk before the step returns: a kill right after must not lose what the step reported done.
        file.Flush(flushToDisk: true);
    }

    private static async Task<T> WithExclusiveAsync<T>(string path, Func<FileStream, Task<T>> write)
    {
        for (var attempt = 0; ; attempt++)
        {
            FileStream file;
            try
            {
                file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (attempt < 500)
            {
                // Another run (in this process or another host) holds the file.
                await Task.Delay(10);
                continue;
            }

            await using (file)
            {
                return await write(file);
            }
        }
    }
}
