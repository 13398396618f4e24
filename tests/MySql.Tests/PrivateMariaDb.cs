using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Durable.MySql.Tests;

/// <summary>
/// A MariaDB server of the test's own (data directory under a temp folder, own free port), for tests that must kill
/// a server or need settings the shared cluster does not have (TLS certificates, compressed binlogs, purged logs).
/// The data directory is copied from a template made once per test run with mariadb-install-db.
/// </summary>
public sealed class PrivateMariaDb : IAsyncDisposable
{
    private static readonly SemaphoreSlim TemplateLock = new(1, 1);
    private static string? _template;
    private readonly Process _process;

    private PrivateMariaDb(Process process, string directory, int port)
    {
        _process = process;
        Directory = directory;
        Port = port;
    }

    public string Directory { get; }

    public int Port { get; }

    public string Socket => Path.Combine(Directory, "mysqld.sock");

    public const string User = "durable_test";
    public const string Password = "private-test-pw";

    public MySqlConnectionOptions Options => new()
    {
        Host = "127.0.0.1", Port = Port, User = User, Password = Password, SslMode = SslMode.Disabled,
    };

    public static async Task<PrivateMariaDb> StartAsync(params string[] extraArguments)
    {
        var template = await TemplateAsync();
        var dir = Path.Combine(Path.GetTempPath(), "durable-mariadb-" + Guid.NewGuid().ToString("N")[..10]);
        CopyDirectory(template, Path.Combine(dir, "data"));
        var port = FreePort();
        var args = new List<string>
        {
            "--no-defaults", $"--datadir={dir}/data", $"--port={port}", "--bind-address=127.0.0.1",
            $"--socket={dir}/mysqld.sock", $"--pid-file={dir}/mysqld.pid", $"--log-error={dir}/error.log",
            "--skip-name-resolve", "--innodb-buffer-pool-size=32M", "--max-allowed-packet=256M",
            "--character-set-server=utf8mb4",
        };
        if (Environment.UserName == "root")
        {
            args.Add("--user=root");
        }

        args.AddRange(extraArguments);
        var psi = new ProcessStartInfo("mariadbd") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        var process = Process.Start(psi) ?? throw new InvalidOperationException("mariadbd did not start");
        var server = new PrivateMariaDb(process, dir, port);
        var root = new MySqlConnectionOptions { UnixSocket = server.Socket, User = "root", SslMode = SslMode.Disabled, ConnectTimeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            if (process.HasExited)
            {
                var log = File.Exists($"{dir}/error.log") ? await File.ReadAllTextAsync($"{dir}/error.log") : "(no log)";
                throw new InvalidOperationException($"private mariadbd exited with {process.ExitCode}: {log}");
            }

            try
            {
                await using var c = await MySqlConnection.OpenAsync(root);
                await c.ExecuteAsync($"CREATE USER IF NOT EXISTS {User}@'%' IDENTIFIED BY '{Password}'");
                await c.ExecuteAsync($"GRANT ALL ON *.* TO {User}@'%' WITH GRANT OPTION");
                return server;
            }
            catch (Exception ex) when (ex is MySqlException && DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
        }
    }

    /// <summary>SIGKILL: the server dies at once, as in a crash.</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static async Task<string> TemplateAsync()
    {
        await TemplateLock.WaitAsync();
        try
        {
            if (_template is not null)
            {
                return _template;
            }

            // Templates of earlier test processes that did not exit cleanly are removed here.
            foreach (var stale in System.IO.Directory.GetDirectories(Path.GetTempPath(), "durable-mariadb-template-*"))
            {
                if (int.TryParse(Path.GetFileName(stale)["durable-mariadb-template-".Length..], out var pid) && !ProcessExists(pid))
                {
                    System.IO.Directory.Delete(stale, recursive: true);
                }
            }

            var dir = Path.Combine(Path.GetTempPath(), $"durable-mariadb-template-{Environment.ProcessId}");
            if (System.IO.Directory.Exists(dir))
            {
                System.IO.Directory.Delete(dir, true);
            }

            var psi = new ProcessStartInfo("mariadb-install-db") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { "--no-defaults", $"--datadir={dir}", "--auth-root-authentication-method=socket", "--skip-test-db" })
            {
                psi.ArgumentList.Add(a);
            }

            if (Environment.UserName == "root")
            {
                psi.ArgumentList.Add("--user=root");
            }

            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            await p.WaitForExitAsync();
            if (p.ExitCode != 0)
            {
                throw new InvalidOperationException($"mariadb-install-db failed ({p.ExitCode}): {await stdout} {await stderr}");
            }

            _template = dir;
            AppDomain.CurrentDomain.ProcessExit += (_, _) =>
            {
                try
                {
                    System.IO.Directory.Delete(dir, recursive: true);
                }
                catch (IOException)
                {
                }
            };
            return dir;
        }
        finally
        {
            TemplateLock.Release();
        }
    }

    private static bool ProcessExists(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static void CopyDirectory(string from, string to)
    {
        System.IO.Directory.CreateDirectory(to);
        foreach (var file in System.IO.Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
