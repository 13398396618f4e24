using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Durable.Core.Positions;
using Durable.MySql.Binlog;
using Durable.Testing;

namespace Durable.MySql.Tests;

/// <summary>Tests that need a server of their own: killing it, TLS certificates, compressed or purged binlogs.</summary>
[Trait("Category", "Integration")]
public sealed class PrivateServerTests
{
    [Fact]
    public async Task Server_killed_mid_query_gives_a_clear_error_not_a_hang()
    {
        await using var server = await PrivateMariaDbServer.StartAsync();
        await using var c = await MySqlConnection.OpenAsync(server.Options with { CommandTimeout = TimeSpan.FromMinutes(5) });
        var running = c.ExecuteAsync("SELECT SLEEP(60)");
        await Task.Delay(500);
        server.Kill();
        var ex = await Assert.ThrowsAsync<MySqlException>(() => running.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(MySqlErrorCode.ServerLost, ex.ErrorNumber);
        Assert.Contains("Lost connection", ex.Message, StringComparison.Ordinal);
        Assert.False(c.IsUsable);
    }

    [Fact]
    public async Task Server_killed_while_streaming_rows_gives_a_clear_error()
    {
        await using var server = await PrivateMariaDbServer.StartAsync();
        await using var c = await MySqlConnection.OpenAsync(server.Options);
        await using var reader = await c.QueryAsync("SELECT a.seq, REPEAT('x', 200) FROM mysql.seq_1_to_100000 a, mysql.seq_1_to_100 b");
        Assert.True(await reader.ReadAsync());
        server.Kill();
        var ex = await Assert.ThrowsAsync<MySqlException>(async () =>
        {
            while (await reader.ReadAsync())
            {
            }
        });
        Assert.Equal(MySqlErrorCode.ServerLost, ex.ErrorNumber);
    }

    [Fact]
    public async Task Tls_modes_against_a_server_with_a_certificate()
    {
        var dir = Directory.CreateTempSubdirectory("durable-tls-");
        try
        {
            var (caFile, certFile, keyFile) = WriteCertificates(dir.FullName, "ca");
            var (otherCa, _, _) = WriteCertificates(Directory.CreateDirectory(Path.Combine(dir.FullName, "other")).FullName, "other");
            await using var server = await PrivateMariaDbServer.StartAsync(extraArguments: [$"--ssl-ca={caFile}", $"--ssl-cert={certFile}", $"--ssl-key={keyFile}"]);

            await using (var plain = await MySqlConnection.OpenAsync(server.Options with { SslMode = SslMode.Disabled }))
            {
                Assert.False(plain.IsEncrypted);
                Assert.Equal(string.Empty, await plain.QueryScalarAsync("SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_cipher'"));
            }

            foreach (var mode in new[] { SslMode.Preferred, SslMode.Required })
            {
                await using var tls = await MySqlConnection.OpenAsync(server.Options with { SslMode = mode });
                Assert.True(tls.IsEncrypted);
                Assert.NotEqual(string.Empty, await tls.QueryScalarAsync("SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_cipher'"));
            }

            await using (var verified = await MySqlConnection.OpenAsync(server.Options with { SslMode = SslMode.VerifyCA, SslCaFile = caFile }))
            {
                Assert.True(verified.IsEncrypted);
                Assert.Equal("1", await verified.QueryScalarAsync("SELECT 1"));
            }

            var ex = await Assert.ThrowsAsync<MySqlException>(() => MySqlConnection.OpenAsync(server.Options with { SslMode = SslMode.VerifyCA, SslCaFile = otherCa }));
            Assert.Equal(MySqlErrorCode.SslConnectionError, ex.ErrorNumber);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Required_tls_against_a_server_without_certificates_fails_clearly()
    {
        await using var server = await PrivateMariaDbServer.StartAsync();
        var ex = await Assert.ThrowsAsync<MySqlException>(() => MySqlConnection.OpenAsync(server.Options with { SslMode = SslMode.Required }));
        Assert.Equal(MySqlErrorCode.SslConnectionError, ex.ErrorNumber);
        Assert.Contains("does not offer it", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Compressed_binlog_events_are_decoded()
    {
        await using var server = await PrivateMariaDbServer.StartAsync(serverId: 7, extraArguments: ["--log-bin-compress=ON", "--log-bin-compress-min-len=10"]);
        await using var c = await MySqlConnection.OpenAsync(server.Options);
        await c.ExecuteAsync("CREATE DATABASE z");
        var start = GtidPosition.Parse(await c.QueryScalarAsync("SELECT @@global.gtid_binlog_pos") ?? string.Empty, GtidFlavor.MariaDb);
        await c.ExecuteAsync("CREATE TABLE z.t (id INT PRIMARY KEY, v TEXT) /* a statement long enough to be compressed */");
        await c.ExecuteAsync("INSERT INTO z.t VALUES (1, REPEAT('abc', 1000)), (2, 'two')");
        await c.ExecuteAsync("UPDATE z.t SET v = REPEAT('xyz', 2000) WHERE id = 2");
        await c.ExecuteAsync("DELETE FROM z.t WHERE id = 1");

        await using var stream = await BinlogStream.StartAsync(server.Options, new BinlogStreamOptions { ServerId = 99, Start = start });
        var seen = new List<RowsEvent>();
        var types = new HashSet<BinlogEventType>();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (seen.Count < 3)
        {
            var evt = await stream.ReadEventAsync(deadline.Token);
            types.Add(evt!.Header.Type);
            if (evt is RowsEvent rows)
            {
                seen.Add(rows);
            }
        }

        Assert.Contains(BinlogEventType.QueryCompressed, types);
        Assert.Contains(BinlogEventType.WriteRowsCompressedV1, types);
        Assert.Contains(BinlogEventType.UpdateRowsCompressedV1, types);
        Assert.Contains(BinlogEventType.DeleteRowsCompressedV1, types);
        Assert.Equal(new string('a', 0) + string.Concat(Enumerable.Repeat("abc", 1000)), seen[0].Rows[0].After![1].AsString());
        Assert.Equal(string.Concat(Enumerable.Repeat("xyz", 2000)), seen[1].Rows[0].After![1].AsString());
        Assert.Equal("two", seen[1].Rows[0].Before![1].AsString());
        Assert.Equal(RowsEventKind.Delete, seen[2].Kind);
        Assert.True(stream.Position.AtLeast(start));
    }

    [Fact]
    public async Task Purged_start_position_is_a_clear_error()
    {
        await using var server = await PrivateMariaDbServer.StartAsync(serverId: 8);
        await using var c = await MySqlConnection.OpenAsync(server.Options);
        await c.ExecuteAsync("CREATE DATABASE p");
        await c.ExecuteAsync("CREATE TABLE p.t (id INT PRIMARY KEY)");
        var old = GtidPosition.Parse(await c.QueryScalarAsync("SELECT @@global.gtid_binlog_pos") ?? string.Empty, GtidFlavor.MariaDb);
        await c.ExecuteAsync("INSERT INTO p.t VALUES (1)");
        await c.ExecuteAsync("INSERT INTO p.t VALUES (2)");
        await c.ExecuteAsync("FLUSH BINARY LOGS");
        var current = await c.QueryAsync("SHOW MASTER STATUS");
        string file;
        await using (current)
        {
            Assert.True(await current.ReadAsync());
            file = current.GetString(0)!;
        }

        // A binlog still needed for crash recovery (before its checkpoint) is skipped by PURGE: retry until it is gone.
        for (var attempt = 0; ; attempt++)
        {
            await c.ExecuteAsync("PURGE BINARY LOGS TO " + c.Quoter.String(file));
            var logs = 0;
            await using (var list = await c.QueryAsync("SHOW BINARY LOGS"))
            {
                while (await list.ReadAsync())
                {
                    logs++;
                }
            }

            if (logs == 1)
            {
                break;
            }

            Assert.True(attempt < 100, "the old binlog was never purged");
            await Task.Delay(100);
        }

        await using var stream = await BinlogStream.StartAsync(server.Options, new BinlogStreamOptions { ServerId = 98, Start = old });
        var ex = await Assert.ThrowsAsync<BinlogPositionPurgedException>(async () =>
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (await stream.ReadEventAsync(deadline.Token) is not null)
            {
            }
        });
        Assert.Equal(old.ToString(), ex.Position);
        Assert.Contains("purged", ex.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Idle_stream_receives_heartbeats()
    {
        // A private server: on the shared cluster other tests' writes would keep the stream busy.
        await using var server = await PrivateMariaDbServer.StartAsync(serverId: 9);
        await using var c = await MySqlConnection.OpenAsync(server.Options);
        var position = GtidPosition.Parse(await c.QueryScalarAsync("SELECT @@global.gtid_binlog_pos") ?? string.Empty, GtidFlavor.MariaDb);
        var options = new BinlogStreamOptions { ServerId = 97, Start = position, HeartbeatPeriod = TimeSpan.FromMilliseconds(300) };
        await using var stream = await BinlogStream.StartAsync(server.Options, options);
        var heartbeats = 0;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (heartbeats < 3)
        {
            if (await stream.ReadEventAsync(cts.Token) is HeartbeatEvent)
            {
                heartbeats++;
            }
        }

        Assert.Equal(3, heartbeats);
        Assert.Equal(position, stream.Position);
    }

    private static (string Ca, string Cert, string Key) WriteCertificates(string dir, string name)
    {
        using var caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest($"CN=durable-test-{name}-ca", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));

        using var serverKey = RSA.Create(2048);
        var serverRequest = new CertificateRequest("CN=127.0.0.1", serverKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        serverRequest.CertificateExtensions.Add(san.Build());
        serverRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        using var serverCert = serverRequest.Create(ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(29), [1, 2, 3, 4]);

        var caFile = Path.Combine(dir, "ca.pem");
        var certFile = Path.Combine(dir, "server-cert.pem");
        var keyFile = Path.Combine(dir, "server-key.pem");
        File.WriteAllText(caFile, ca.ExportCertificatePem());
        File.WriteAllText(certFile, serverCert.ExportCertificatePem());
        File.WriteAllText(keyFile, serverKey.ExportRSAPrivateKeyPem());
        return (caFile, certFile, keyFile);
    }
}
