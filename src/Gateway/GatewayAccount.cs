namespace Durable.Gateway;

/// <summary>An account clients log in to the gateway as (Gateway:Accounts:N:User / :Password). The password is never logged.</summary>
public sealed class GatewayAccount
{
    public string User { get; set; } = string.Empty;

    public string Password { get; set; } = string.Empty;

    public override string ToString() => User;
}
