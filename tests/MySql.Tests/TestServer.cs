using Durable.Testing;

namespace Durable.MySql.Tests;

/// <summary>
/// Connection options for the local cluster's servers. DURABLE_MYSQL_TEST_SERVER ("host:port:user:password") points the
/// tests at another real server instead (used while the shared cluster was still starting); normally it is unset.
/// </summary>
public static class TestServer
{
    public static MySqlConnectionOptions Dba(int? uid = null, string? database = null)
    {
        var overrideSpec = Environment.GetEnvironmentVariable("DURABLE_MYSQL_TEST_SERVER");
        if (!string.IsNullOrEmpty(overrideSpec))
        {
            var parts = overrideSpec.Split(':', 4);
            return new MySqlConnectionOptions { Host = parts[0], Port = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture), User = parts[2], Password = parts[3], Database = database, SslMode = SslMode.Disabled };
        }

        var cluster = LocalCluster.Current;
        var tablet = uid is null ? cluster.Primary("commerce") : cluster.Tablet(uid.Value);
        var (user, password) = cluster.Account("dba");
        return new MySqlConnectionOptions { Host = tablet.Host, Port = tablet.Port, User = user, Password = password, Database = database, SslMode = SslMode.Disabled };
    }

    public static Task<MySqlConnection> OpenDbaAsync(int? uid = null, string? database = null) =>
        MySqlConnection.OpenAsync(Dba(uid, database));

    /// <summary>A name unique to this test run, for databases/tables/users the test creates and drops.</summary>
    public static string UniqueName(string prefix) => $"{prefix}_{Environment.ProcessId}_{Guid.NewGuid().ToString("N")[..8]}";
}
