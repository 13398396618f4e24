using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Etcdserverpb;
using Grpc.Core;
using Grpc.Net.Client;
using DotnetEtcdClient = dotnet_etcd.EtcdClient;

namespace Durable.Topology.Etcd;

/// <summary>
/// One etcd endpoint: its own gRPC channel and dotnet-etcd client, and its own auth token. The channel is built here
/// rather than by dotnet-etcd's connection-string constructor for three reasons: that constructor balances requests
/// round-robin over all endpoints (so an error could not say which endpoint failed), it installs a retry policy that
/// re-sends a call after Unavailable (a compare-and-swap transaction re-sent after it was applied reports a conflict
/// that never happened), and it offers no private-CA check. Tokens are per endpoint because etcd's default "simple"
/// tokens are only valid on the member that issued them.
/// </summary>
internal sealed class EtcdEndpoint : IDisposable
{
    private readonly GrpcChannel _channel;
    private readonly SemaphoreSlim _authLock = new(1, 1);
    private Metadata? _headers;

    public EtcdEndpoint(Uri uri, EtcdOptions options)
    {
        Uri = uri;
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(3),
            // HTTP/2 pings notice a dead etcd on an idle watch stream instead of waiting on it forever.
            KeepAlivePingDelay = TimeSpan.FromSeconds(10),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
            EnableMultipleHttp2Connections = true,
            SslOptions = BuildSslOptions(options),
        };
        _channel = GrpcChannel.ForAddress(uri, new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            // Cancelling a call through its token throws OperationCanceledException, as every other await here does.
            ThrowOperationCanceledOnCancellation = true,
            MaxReceiveMessageSize = null, // a large prefix listing is paged, but one value may be big (vschema)
        });
        Client = new DotnetEtcdClient(_channel.CreateCallInvoker());
    }


    public Uri Uri { get; }

    public DotnetEtcdClient Client { get; }

    /// <summary>The call headers: none without a user, else the token (fetched once, again after it expired).</summary>
    public async ValueTask<Metadata?> HeadersAsync(EtcdOptions options, DateTime deadline, CancellationToken ct)
    {
        if (options.User is null)
        {
            return null;
        }

        if (Volatile.Read(ref _headers) is { } cached)
        {
            return cached;
        }

        await _authLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_headers is not null)
            {
                return _headers;
            }

            AuthenticateResponse response;
            try
            {
                response = await Client.AuthenticateAsync(
                    new AuthenticateRequest { Name = options.User, Password = options.Password ?? "" },
                    deadline: deadline, cancellationToken: ct).ConfigureAwait(false);
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.InvalidArgument or StatusCode.PermissionDenied or StatusCode.Unauthenticated or StatusCode.FailedPrecondition)
            {
                // The password is deliberately left out of the message.
                throw new EtcdException($"etcd at {Uri} refused authentication for user '{options.User}': {e.Status.Detail}", (int)e.StatusCode, e);
            }

            _headers = new Metadata { { "token", response.Token } };
            return _headers;
        }
        finally
        {
            _authLock.Release();
        }
    }

    /// <summary>Forgets the token after etcd called it invalid or expired, so the next call authenticates again.</summary>
    public void ForgetToken(Metadata? rejected)
    {
        Interlocked.CompareExchange(ref _headers, null, rejected);
    }

    public void Dispose()
    {
        Client.Dispose();
        _channel.Dispose();
        _authLock.Dispose();
    }

    private static SslClientAuthenticationOptions BuildSslOptions(EtcdOptions options)
    {
        var ssl = new SslClientAuthenticationOptions();
        if (options.ClientCertificateFile is not null)
        {
            ssl.ClientCertificates = [X509Certificate2.CreateFromPemFile(options.ClientCertificateFile, options.ClientKeyFile)];
        }

        if (options.CaCertificateFile is not null)
        {
            var ca = X509CertificateLoader.LoadCertificateFromFile(options.CaCertificateFile);
            ssl.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
                {
                    return false;
                }

                // Only the given CA is trusted: a certificate from a public CA is not enough for the topology store.
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(ca);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(new X509Certificate2(certificate));
            };
        }

        return ssl;
    }
}
