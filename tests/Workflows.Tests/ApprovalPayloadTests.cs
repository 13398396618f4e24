namespace Durable.Workflows.Tests;

/// <summary>
/// The approval payload as docs/approvals.md documents it for chat-ops bots: the canonical text, the worked example's
/// signature (computed with Python's hmac and with openssl), and the refusals of everything else, each naming what is wrong.
/// </summary>
public class ApprovalPayloadTests
{
    private static readonly byte[] ExampleKey = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();

    private const string Example = """
        {"instance_id":"movetables:customer.commerce2customer","action":"SwitchTraffic","generation":3,"approver":"alice",
         "nonce":"7f1c0e9a2b","expires_at":1767225600,"signature":"6a26cc99ac142ac8319bf0397f6448ae1190f6fcac4fe1fdbe143df532bb0f41"}
        """;

    private static ConfiguredApproverKeys Keys => ConfiguredApproverKeys.Parse("alice=" + Convert.ToBase64String(ExampleKey));

    [Fact]
    public void The_documented_example_parses_and_its_signature_is_the_one_python_and_openssl_compute()
    {
        var a = SignedApproval.Parse(Example);
        Assert.Equal(new SignedApproval("movetables:customer.commerce2customer", "SwitchTraffic", 3, "alice", "7f1c0e9a2b", 1767225600,
            "6a26cc99ac142ac8319bf0397f6448ae1190f6fcac4fe1fdbe143df532bb0f41"), a);
        Assert.Equal("durable-approval-v2\nmovetables:customer.commerce2customer\nSwitchTraffic\n3\nalice\n7f1c0e9a2b\n1767225600", a.Canonical());
        Assert.Null(ApprovalSignature.Refusal(Keys, a));
        Assert.Equal(a, SignedApproval.Sign(ExampleKey, a.InstanceId, a.Action, a.Generation, a.Approver, a.Nonce, DateTimeOffset.FromUnixTimeSeconds(a.ExpiresAt)));
        // Upper-case hex is the same signature.
        Assert.Null(ApprovalSignature.Refusal(Keys, a with { Signature = a.Signature.ToUpperInvariant() }));
    }

    [Fact]
    public void The_generation_is_signed_and_v1_approvals_are_refused()
    {
        var a = SignedApproval.Parse(Example);
        Assert.StartsWith("bad signature", ApprovalSignature.Refusal(Keys, a with { Generation = 4 }));
        // A signature over the v1 text (no generation) does not verify, and says why.
        var v1 = Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData(ExampleKey, System.Text.Encoding.UTF8.GetBytes(
            "durable-approval-v1\nmovetables:customer.commerce2customer\nSwitchTraffic\nalice\n7f1c0e9a2b\n1767225600")));
        Assert.Contains("durable-approval-v1 approvals, without a generation, are no longer accepted", ApprovalSignature.Refusal(Keys, a with { Signature = v1 }));
        var withoutGeneration = Assert.Throws<WorkflowValidationException>(() => SignedApproval.Parse(Example.Replace("\"generation\":3,", "", StringComparison.Ordinal)));
        Assert.Contains("lacks generation", withoutGeneration.Message);
        Assert.Contains("durable-approval-v1", withoutGeneration.Message);
    }

    [Theory]
    [InlineData("not json", "not JSON")]
    [InlineData("[1]", "not an object")]
    [InlineData("""{"instanceId":"movetables:customer.x","eventName":"Command","payload":{}}""", "unknown field 'instanceId'")]
    [InlineData("""{"approval":{}}""", "unknown field 'approval'")]
    [InlineData("""{"instance_id":"i","action":"SwitchTraffic","generation":0,"approver":"alice","nonce":"n","expires_at":1}""", "lacks signature")]
    [InlineData("""{"instance_id":"i","action":"switchtraffic","generation":0,"approver":"alice","nonce":"n","expires_at":1,"signature":"00"}""", "'switchtraffic' is invalid")]
    [InlineData("""{"instance_id":"i","action":"Cancel","generation":0,"approver":"alice","nonce":"n","expires_at":1,"signature":"00"}""", "'Cancel' is invalid")]
    [InlineData("""{"instance_id":"i","action":"Complete","generation":"3","approver":"alice","nonce":"n","expires_at":1,"signature":"00"}""", "generation must be a whole number")]
    [InlineData("""{"instance_id":"i","action":"Complete","generation":-1,"approver":"alice","nonce":"n","expires_at":1,"signature":"00"}""", "generation -1 is invalid")]
    [InlineData("""{"instance_id":"i","action":"Complete","generation":1.5,"approver":"alice","nonce":"n","expires_at":1,"signature":"00"}""", "generation must be a whole number")]
    [InlineData("""{"instance_id":"i\nj","action":"Complete","generation":1,"approver":"alice","nonce":"n","expires_at":1,"signature":"00"}""", "line break")]
    [InlineData("""{"instance_id":"","action":"Complete","generation":1,"approver":"alice","nonce":"n","expires_at":1,"signature":"00"}""", "instance_id must be a non-empty string")]
    [InlineData("""{"instance_id":"i","instance_id":"j","action":"Complete","generation":1,"approver":"alice","nonce":"n","expires_at":1,"signature":"00"}""", "'instance_id' twice")]
    public void Anything_but_the_documented_shape_is_refused_naming_what_is_wrong(string json, string mention) =>
        Assert.Contains(mention, Assert.Throws<WorkflowValidationException>(() => SignedApproval.Parse(json)).Message);

    [Fact]
    public void Unknown_approvers_and_bad_hex_are_refused_by_the_signature_check()
    {
        var a = SignedApproval.Parse(Example);
        Assert.Contains("no key is configured for approver 'bob'", ApprovalSignature.Refusal(Keys, a with { Approver = "bob" }));
        Assert.Contains("not hex", ApprovalSignature.Refusal(Keys, a with { Signature = "zz" }));
        Assert.Contains("not a valid approver name", ApprovalSignature.Refusal(Keys, a with { Approver = "a b" }));
    }
}
