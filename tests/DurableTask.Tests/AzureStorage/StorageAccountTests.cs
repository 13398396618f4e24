using Durable.AzureStorage;

namespace Durable.DurableTask.Tests.AzureStorage;

public sealed class StorageAccountTests
{
    [Fact]
    public void Development_storage_means_azurite_on_default_ports()
    {
        var a = StorageAccount.Parse("UseDevelopmentStorage=true");
        Assert.Equal("devstoreaccount1", a.Name);
        Assert.Equal("http://127.0.0.1:10000/devstoreaccount1", a.BlobEndpoint.ToString().TrimEnd('/'));
        Assert.Equal("http://127.0.0.1:10001/devstoreaccount1", a.QueueEndpoint.ToString().TrimEnd('/'));
    }

    [Fact]
    public void Explicit_endpoints_override_the_account_host()
    {
        var a = StorageAccount.Parse(
            $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={StorageAccount.DevelopmentAccountKey};BlobEndpoint=http://127.0.0.1:20000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:20001/devstoreaccount1;");
        Assert.Equal(20000, a.BlobEndpoint.Port);
        Assert.Equal(20001, a.QueueEndpoint.Port);
    }

    [Fact]
    public void Azure_form_builds_endpoints_from_suffix()
    {
        var a = StorageAccount.Parse("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=AAAA;EndpointSuffix=core.windows.net");
        Assert.Equal("https://acct.blob.core.windows.net/", a.BlobEndpoint.ToString());
        Assert.Equal("https://acct.queue.core.windows.net/", a.QueueEndpoint.ToString());
    }

    [Theory]
    [InlineData("AccountName=a", "no AccountKey")]
    [InlineData("AccountKey=AAAA", "no AccountName")]
    [InlineData("AccountName=a;AccountKey=not base64!", "not valid base64")]
    [InlineData("AccountName=a;AccountKey=AAAA;QueueEndpoint=ftp://x", "QueueEndpoint 'ftp://x'")]
    [InlineData("garbage", "'garbage' is not 'Name=Value'")]
    public void Bad_connection_strings_are_named(string cs, string expected)
    {
        var ex = Assert.ThrowsAny<Exception>(() => StorageAccount.Parse(cs));
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void Errors_never_echo_the_key()
    {
        var ex = Assert.ThrowsAny<Exception>(() => StorageAccount.Parse("AccountName=a;AccountKey=c2VjcmV0LWtleQ==x;"));
        Assert.DoesNotContain("c2VjcmV0", ex.Message);
    }

    [Theory]
    [InlineData("UPPER")]
    [InlineData("a")]
    [InlineData("double--hyphen")]
    public void Invalid_queue_names_are_rejected(string name)
    {
        var transport = StorageTransport.FromConnectionString("UseDevelopmentStorage=true");
        var ex = Assert.Throws<ArgumentException>(() => transport.GetQueue(name));
        Assert.Contains($"'{name}'", ex.Message);
    }
}
