using Durable.Topology.Etcd;

namespace Durable.Topology.Tests;

[Trait("Category", "Integration")]
public class EtcdSecurityIntegrationTests
{
    [Fact]
    public async Task User_and_password_authentication_works_and_a_wrong_password_is_a_clear_error_without_the_password()
    {
        await using var etcd = await PrivateEtcd.StartAsync();
        const string password = "pw-For-test-0nly";
        await RunAsync("etcdctl", "--endpoints", etcd.Endpoint, "user", "add", $"root:{password}");
        await RunAsync("etcdctl", "--endpoints", etcd.Endpoint, "auth", "enable");

        using (var anonymous = new EtcdConnection(etcd.Endpoint))
        {
            var refused = await Assert.ThrowsAsync<EtcdException>(() => anonymous.PutAsync("/x", "1"));
            Assert.Contains("/v3/kv/put", refused.Message);
        }

        using (var client = new EtcdConnection(new EtcdOptions { Endpoints = EtcdOptions.ParseEndpoints(etcd.Endpoint), User = "root", Password = password }))
        {
            var revision = await client.PutAsync("/auth/x", "1");
            Assert.Equal("1", (await client.GetAsync("/auth/x"))!.ValueString);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await foreach (var batch in client.WatchAsync("/auth/x", startRevision: revision, ct: cts.Token))
            {
                Assert.Equal("1", batch.Events[0].Kv.ValueString);
                break;
            }
        }

        using var wrong = new EtcdConnection(new EtcdOptions { Endpoints = EtcdOptions.ParseEndpoints(etcd.Endpoint), User = "root", Password = "not-" + password });
        var error = await Assert.ThrowsAsync<EtcdException>(() => wrong.GetAsync("/auth/x"));
        Assert.Contains("refused authentication for user 'root'", error.Message);
        Assert.DoesNotContain(password, error.Message);
    }

    [Fact]
    public async Task Tls_with_a_private_ca_works_and_an_untrusted_server_is_refused()
    {
        var dir = Directory.CreateTempSubdirectory("durable-etcd-tls-").FullName;
        try
        {
            var ca = Path.Combine(dir, "ca.pem");
            var caKey = Path.Combine(dir, "ca.key");
            var cert = Path.Combine(dir, "server.pem");
            var key = Path.Combine(dir, "server.key");
            var csr = Path.Combine(dir, "server.csr");
            var ext = Path.Combine(dir, "san.ext");
            await File.WriteAllTextAsync(ext, "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
            await RunAsync("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", caKey, "-out", ca, "-days", "1", "-subj", "/CN=durable-test-ca");
            await RunAsync("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1");
            await RunAsync("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-out", cert, "-days", "1", "-extfile", ext);

            await using var etcd = await PrivateEtcd.StartAsync("https", "--cert-file", cert, "--key-file", key);
            using (var trusted = new EtcdConnection(new EtcdOptions { Endpoints = EtcdOptions.ParseEndpoints(etcd.Endpoint), CaCertificateFile = ca }))
            {
                await trusted.PutAsync("/tls/x", "1");
                Assert.Equal("1", (await trusted.GetAsync("/tls/x"))!.ValueString);
            }

            using var untrusting = new EtcdConnection(etcd.Endpoint);
            var error = await Assert.ThrowsAsync<EtcdUnavailableException>(() => untrusting.GetAsync("/tls/x"));
            Assert.Contains(etcd.Endpoint, error.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static Task RunAsync(string program, params string[] args) => EtcdTool.RunAsync(program, args);
}
