using Durable.Replication;
using Durable.Topology;

namespace Durable.Workflows.Tests;

/// <summary>
/// Per-tablet accounts (which account the engine logs in to a tablet with) and the refusal of SwitchTraffic for a
/// MoveTables reading an unmanaged mount, which names the adoption command.
/// </summary>
public sealed class UnmanagedUnitTests : IDisposable
{
    private static readonly ReplicationCredentials EngineAccount = new("durable_filtered", "engine-secret");
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "durable-accounts-" + Guid.NewGuid().ToString("N")[..8]);

    public UnmanagedUnitTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static TabletEndpoint Tablet(string? user = null, string? passwordRef = null) =>
        new("zone1-0000000500", "shop", "0", "PRIMARY", "10.0.0.5", 3306, "shop") { User = user, PasswordRef = passwordRef };

    [Fact]
    public void A_tablet_without_an_account_of_its_own_gets_the_engine_account()
    {
        var accounts = new TabletAccounts(EngineAccount, new Dictionary<string, string> { ["LEGACY_PASSWORD"] = "legacy-secret" });
        Assert.Same(EngineAccount, accounts.For(Tablet()));
        Assert.Same(EngineAccount, accounts.For(Tablet(user: "legacy_engine")));
    }

    [Fact]
    public void A_tablet_with_its_own_account_is_logged_in_to_with_it()
    {
        var accounts = new TabletAccounts(EngineAccount, new Dictionary<string, string> { ["LEGACY_PASSWORD"] = "legacy-secret" });
        var account = accounts.For(Tablet("legacy_engine", "secret:LEGACY_PASSWORD"));
        Assert.Equal(new ReplicationCredentials("legacy_engine", "legacy-secret"), account);

        var connector = new TabletConnector(new StaticTabletResolver([]), EngineAccount) { Accounts = accounts };
        var options = connector.Options(Tablet("legacy_engine", "secret:LEGACY_PASSWORD"), "shop");
        Assert.Equal(("legacy_engine", "legacy-secret", "10.0.0.5", 3306, "shop"), (options.User, options.Password, options.Host, options.Port, options.Database));
        var plain = connector.Options(Tablet());
        Assert.Equal(("durable_filtered", "engine-secret"), (plain.User, plain.Password));
        // The record's reference for the engine's own user wins when it resolves (it is the truth about that server).
        Assert.Equal("legacy-secret", accounts.For(Tablet("durable_filtered", "secret:LEGACY_PASSWORD")).Password);
    }

    [Fact]
    public void An_engine_user_record_whose_reference_this_host_cannot_resolve_falls_back_to_the_engine_account()
    {
        // Records written before per-tablet accounts name the engine user and secret:DURABLE_FILTERED_PASSWORD; a host
        // configured with only the engine password (no secrets file) must keep working.
        var accounts = new TabletAccounts(EngineAccount);
        Assert.Same(EngineAccount, accounts.For(Tablet("durable_filtered", "secret:NO_SUCH_SECRET_" + Guid.NewGuid().ToString("N"))));
    }

    [Fact]
    public void An_unresolvable_account_of_another_user_fails_naming_tablet_user_and_reference_but_no_password()
    {
        var accounts = new TabletAccounts(EngineAccount, new Dictionary<string, string> { ["OTHER"] = "other-secret" });
        var name = "NO_SUCH_SECRET_" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        var e = Assert.Throws<ReplicationException>(() => accounts.For(Tablet("legacy_engine", "secret:" + name)));
        Assert.Contains("Tablet zone1-0000000500 (shop/0) names the account legacy_engine with password reference secret:" + name, e.Message);
        Assert.Contains($"Add {name} to this host's secrets file (DURABLE_SECRETS_FILE, not set on this host)", e.Message);
        Assert.DoesNotContain("engine-secret", e.Message);
        Assert.DoesNotContain("other-secret", e.Message);
        var connector = new TabletConnector(new StaticTabletResolver([]), EngineAccount) { Accounts = accounts };
        Assert.Throws<ReplicationException>(() => connector.Options(Tablet("legacy_engine", "secret:" + name)));
    }

    [Fact]
    public void A_secret_added_to_the_secrets_file_while_the_host_runs_is_found_by_re_reading_it()
    {
        var file = Path.Combine(_dir, "secrets.env");
        File.WriteAllLines(file, ["# the host's secrets", "DURABLE_FILTERED_PASSWORD=engine-secret"]);
        var accounts = new TabletAccounts(EngineAccount, secretsFile: file);
        Assert.Equal("engine-secret", accounts.For(Tablet("durable_filtered", "secret:DURABLE_FILTERED_PASSWORD")).Password);

        // A source registered later: its secret is appended to the file after the host loaded it.
        File.AppendAllLines(file, ["LEGACY_PASSWORD=legacy-secret"]);
        Assert.Equal(new ReplicationCredentials("legacy_engine", "legacy-secret"), accounts.For(Tablet("legacy_engine", "secret:LEGACY_PASSWORD")));
    }

    [Fact]
    public void Endpoint_text_never_carries_the_password_or_its_reference()
    {
        var tablet = Tablet("legacy_engine", "secret:LEGACY_PASSWORD");
        Assert.Equal("zone1-0000000500 (shop/0 PRIMARY 10.0.0.5:3306)", tablet.ToString());
        Assert.Equal("user legacy_engine", new ReplicationCredentials("legacy_engine", "legacy-secret").ToString());
    }

    [Theory]
    [InlineData("SwitchTraffic")]
    [InlineData("ReverseTraffic")]
    public void Switching_a_MoveTables_that_reads_an_unmanaged_mount_is_refused_with_the_adoption_command(string action)
    {
        var state = new WorkflowState
        {
            Spec = new MoveTablesCreate { MountName = "legacy", Workflow = "adopt", TargetKeyspace = "customer", SourceKeyspace = "shop", Tables = ["customer"] },
            Phase = Phases.Running,
        };
        var e = Assert.Throws<WorkflowStateException>(() => CommandRules.Check(state, new WorkflowCommand { Action = action, RequestId = "r1", RequestedBy = "test" }));
        Assert.Contains($"{action} is not possible for customer.adopt: its source keyspace shop is outside this cluster's topology (mount legacy)", e.Message);
        Assert.Contains("register the server as a keyspace of this topology with `durablectl RegisterExternalSource --name legacy --as-keyspace`", e.Message);
        Assert.Contains("cancel this workflow (`durablectl MoveTables --workflow adopt --target-keyspace customer cancel`)", e.Message);
        Assert.Contains("create it again with --source-keyspace shop and no --mount-name", e.Message);
    }
}
