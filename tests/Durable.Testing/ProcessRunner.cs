using System.Diagnostics;
using System.Text;

namespace Durable.Testing;

/// <summary>Runs a command to completion for tests, capturing stdout and stderr, with a time limit.</summary>
public static class ProcessRunner
{
    public sealed record Result(int ExitCode, string StdOut, string StdErr);

    public static async Task<Result> RunAsync(
        string fileName,
        IEnumerable<string> arguments,
        string? stdin = null,
        IDictionary<string, string>? environment = null,
        TimeSpan? timeout = null,
        string? workingDirectory = null)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? LocalCluster.RepositoryRoot(),
        };
        foreach (var a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        if (environment is not null)
        {
            foreach (var (k, v) in environment)
            {
                psi.Environment[k] = v;
            }
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {fileName}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();
        }

        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', psi.ArgumentList)} did not finish within {timeout ?? TimeSpan.FromMinutes(2)}");
        }

        return new Result(process.ExitCode, await stdout, await stderr);
    }
}

/// <summary>
/// The <c>mariadb</c> command-line client against a tablet, for tests that check the cluster itself (independently of
/// the project's own protocol library). Credentials go through a private defaults file, never the command line.
/// </summary>
public static class MariaDbCli
{
    public static async Task<string> QueryAsync(TabletInfo tablet, string role, string sql, string? database = null, bool columnNames = false)
    {
        var result = await TryQueryAsync(tablet, role, sql, database, columnNames);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"mariadb on {tablet.Alias} as {role} failed: {result.StdErr.Trim()}");
        }

        return result.StdOut.TrimEnd('\n');
    }

    public static async Task<ProcessRunner.Result> TryQueryAsync(TabletInfo tablet, string role, string sql, string? database = null, bool columnNames = false)
    {
        var (user, password) = LocalCluster.Current.Account(role);
        var cnf = Path.Combine(Path.GetTempPath(), $"durable-test-{Guid.NewGuid():N}.cnf");
        var content = new StringBuilder()
            .AppendLine("[client]")
            .AppendLine($"user={user}")
            .AppendLine($"password={password}")
            .AppendLine($"host={tablet.Host}")
            .AppendLine($"port={tablet.Port}")
            .ToString();
        File.WriteAllText(cnf, string.Empty);
        if (!OperatingSystem.IsWindows())
        {
            // The password must not be readable by other users even for the instant the file exists.
            File.SetUnixFileMode(cnf, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        File.WriteAllText(cnf, content);
        try
        {
            var args = new List<string> { $"--defaults-extra-file={cnf}", "--batch", "--protocol=tcp" };
            if (!columnNames)
            {
                args.Add("--skip-column-names");
            }

            if (database is not null)
            {
                args.Add(database);
            }

            return await ProcessRunner.RunAsync("mariadb", args, stdin: sql);
        }
        finally
        {
            File.Delete(cnf);
        }
    }
}
