using Durable.Testing;

namespace Durable.MySql.Tests;

/// <summary>
/// How the protocol tests connect to a private server of their own (<see cref="PrivateMariaDbServer"/>, shared test
/// support that does not depend on this library): as its admin account, over TCP, unencrypted unless a test asks.
/// </summary>
internal static class PrivateServerOptions
{
    extension(PrivateMariaDbServer server)
    {
        public MySqlConnectionOptions Options => new()
        {
            Host = server.Host, Port = server.Port, User = PrivateMariaDbServer.AdminUser, Password = server.AdminPassword, SslMode = SslMode.Disabled,
        };
    }
}
