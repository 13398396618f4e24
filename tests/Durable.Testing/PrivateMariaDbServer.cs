using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace Durable.Testing;

/// <summary>
/// A plain MariaDB server of the test's own, known to no topology: a fresh data directory under the temp folder, a free
/// port on 127.0.0.1, and the binlog settings of the local cluster (ROW, FULL image and metadata, GTID strict mode), so
/// it can stand for an application's existing database. Accounts are created at first start by an init file
/// (<see cref="AdminUser"/> with all privileges, plus any given); the server and its directory go on dispose.
/// </summary>
public sealed class PrivateMariaDbServer : IAsyncDisposable
{
    private readonly Process _process;

    private PrivateMariaDbServer(Process process, string directory, int port, string adminPassword)
    {
        _process = process;
        Directory = directory;
        Port = port;
        AdminPassword = adminPassword;
    }

    public const string AdminUser = "private_admin";

    public string Directory { get; }

    public string Host => "127.0.0.1";

    public int Port { get; }

    /// <summary>Generated per server; never printed.</summary>
    public string AdminPassword { get; }

    /// <summary>
    /// Starts a server. <paramref name="accounts"/>: extra accounts (user, password, privileges such as
    /// <c>SELECT, INSERT ON *.*</c>) created at first start; <paramref name="serverId"/> must differ from every tablet's.
    /// <paramref name="extraArguments"/>: mariadbd options added after the defaults, so they override them (TLS
    /// certificates, a compressed binlog, <c>--skip-log-bin</c> for a replica that keeps no binlog of its own...).
    /// </summary>
    public static async Task<PrivateMariaDbServer> StartAsync(IReadOnlyList<(string User, string Password, string Grants)>? accounts = null, int serverId = 7301,
        IReadOnlyList<string>? extraArguments = null)
    {
        var dir = Path.Combine(Path.GetTempPath(), "durable-private-" + Guid.NewGuid().ToString("N")[..10]);
        var data = Path.Combine(dir, "data");
        System.IO.Directory.CreateDirectory(data);
        // A temporary-file directory of its own (passed through to the bootstrap mariadbd): with /tmp shared by a dozen
        // servers, one bootstrap once failed to find its own temporary table there ("Could not remove temporary table
        // '/tmp/#sql-temptable-...', error: 2", then ERROR 1051 on mysql.tmp_proxies_priv).
        var tmp = Path.Combine(dir, "tmp");
        System.IO.Directory.CreateDirectory(tmp);
        await RunAsync("mariadb-install-db", ["--no-defaults", $"--datadir={data}", "--auth-root-authentication-method=socket", "--skip-test-db",
            $"--tmpdir={tmp}", .. RootUser()]);

        var adminPassword = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        var init = new List<string>
        {
            $"CREATE USER '{AdminUser}'@'%' IDENTIFIED BY '{adminPassword}';",
            $"GRANT ALL PRIVILEGES ON *.* TO '{AdminUser}'@'%' WITH GRANT OPTION;",
        };
        foreach (var (user, password, grants) in accounts ?? [])
        {
            // Test-controlled values; refuse quotes rather than escape them.
            if (user.Contains('\'') || password.Contains('\'') || grants.Contains(';'))
            {
                throw new ArgumentException($"Account '{user}': quotes and ';' are not allowed in test accounts.");
            }

            init.Add($"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}';");
            init.Add($"GRANT {grants} TO '{user}'@'%';");
        }

        var initFile = Path.Combine(dir, "init.sql");
        await File.WriteAllLinesAsync(initFile, init);
        var port = FreePort();
        var args = new List<string>
        {
            "--no-defaults", $"--datadir={data}", $"--port={port}", "--bind-address=127.0.0.1", $"--socket={dir}/mariadbd.sock",
            $"--pid-file={dir}/mariadbd.pid", $"--log-error={dir}/error.log", $"--tmpdir={tmp}", $"--init-file={initFile}", "--skip-name-resolve",
            "--innodb-buffer-pool-size=32M", "--character-set-server=utf8mb4", "--max-allowed-packet=1G",
            // The local cluster's binlog settings: what a source must have for the engine's copy and replication.
            $"--server-id={serverId}", $"--log-bin={dir}/binlog", "--binlog-format=ROW", "--binlog-row-image=FULL", "--binlog-row-metadata=FULL",
            "--log-slave-updates", "--gtid-strict-mode=ON", "--log-bin-trust-function-creators=ON",
        };
        args.AddRange(RootUser());
        args.AddRange(extraArguments ?? []);
        var psi = new ProcessStartInfo("mariadbd") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        args.ForEach(psi.ArgumentList.Add);
        var process = Process.Start(psi) ?? throw new InvalidOperationException("mariadbd did not start.");
        var server = new PrivateMariaDbServer(process, dir, port, adminPassword);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            if (process.HasExited)
            {
                var log = File.Exists(Path.Combine(dir, "error.log")) ? await File.ReadAllTextAsync(Path.Combine(dir, "error.log")) : "";
                throw new InvalidOperationException($"The private MariaDB exited with {process.ExitCode}: {log[^Math.Min(log.Length, 2000)..]}");
            }

            // The init file runs before the server listens, so an open port means the accounts exist.
            try
            {
                using var tcp = new TcpClient();
                await tcp.ConnectAsync(IPAddress.Loopback, port);
                return server;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
        }
    }

    /// <summary>SIGKILL: the server dies at once, as in a crash (for tests of what clients see then).</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    private static string[] RootUser() => Environment.UserName == "root" ? ["--user=root"] : [];

    private static async Task RunAsync(string program, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"{program} did not start.");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} failed ({p.ExitCode}): {await stdout} {await stderr}");
        }
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

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
            // a file still held open by the dying server: the temp folder is cleaned later
        }
    }
}
