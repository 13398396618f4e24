using Durable.Functions.Hosting;
using Durable.Testing;

namespace Durable.Functions.Tests;

public class HostJsonTests
{
    [Fact]
    public void Repository_host_json_parses_with_its_values()
    {
        var h = HostJson.Load(Path.Combine(LocalCluster.RepositoryRoot(), "host.json"));
        Assert.Equal("DurableHub", h.DurableTask.HubName);
        Assert.Equal(4, h.DurableTask.PartitionCount);
        Assert.Equal(10, h.DurableTask.MaxConcurrentActivityFunctions);
        Assert.Equal(10, h.DurableTask.MaxConcurrentOrchestratorFunctions);
        Assert.Equal(TimeSpan.FromSeconds(5), h.DurableTask.MaxQueuePollingInterval);
        Assert.Equal(TimeSpan.FromMinutes(30), h.FunctionTimeout);
        Assert.Equal(5, h.Queues.MaxDequeueCount);
        Assert.Equal("Information", h.LogLevels["default"]);
    }

    [Fact]
    public void Repository_local_settings_sample_parses_and_uses_azurite()
    {
        var s = LocalSettings.Parse(File.ReadAllText(Path.Combine(LocalCluster.RepositoryRoot(), "local.settings.sample.json")));
        Assert.Equal("UseDevelopmentStorage=true", s.Values["AzureWebJobsStorage"]);
        Assert.Equal(7071, s.LocalHttpPort);
        Assert.True(s.Values.ContainsKey("FUNCTIONS_WORKER_RUNTIME"));
    }

    [Fact]
    public void Minimal_host_json_gets_defaults()
    {
        var h = HostJson.Parse("""{ "version": "2.0" }""");
        Assert.Equal(HostJson.DefaultHubName, h.DurableTask.HubName);
        Assert.Equal(4, h.DurableTask.PartitionCount);
        Assert.Equal(TimeSpan.FromSeconds(30), h.DurableTask.MaxQueuePollingInterval);
        Assert.Equal("base64", h.Queues.MessageEncoding);
    }

    [Fact]
    public void Function_timeout_minus_one_means_unbounded()
    {
        Assert.Null(HostJson.Parse("""{ "version": "2.0", "functionTimeout": "-1" }""").FunctionTimeout);
    }

    [Theory]
    [InlineData("""{ "version": "1.0" }""", "version is '1.0'")]
    [InlineData("""{ }""", "version is '(missing)'")]
    [InlineData("""{ "version": "2.0", "functionTimeout": "5 minutes" }""", "functionTimeout is '5 minutes'")]
    [InlineData("""{ "version": "2.0", "extensions": { "durableTask": { "hubName": "my-hub" } } }""", "hubName 'my-hub' is not a valid task hub name")]
    [InlineData("""{ "version": "2.0", "extensions": { "durableTask": { "storageProvider": { "partitionCount": 17 } } } }""", "partitionCount is 17; valid: a whole number from 1 to 16")]
    [InlineData("""{ "version": "2.0", "extensions": { "durableTask": { "storageProvider": { "type": "mssql" } } } }""", "type is 'mssql'")]
    [InlineData("""{ "version": "2.0", "extensions": { "durableTask": { "maxConcurrentActivityFunctions": 0 } } }""", "maxConcurrentActivityFunctions is 0")]
    [InlineData("""{ "version": "2.0", "extensions": { "queues": { "batchSize": 33 } } }""", "batchSize is 33; valid: a whole number from 1 to 32")]
    [InlineData("""{ "version": "2.0", "extensions": { "queues": { "messageEncoding": "utf16" } } }""", "messageEncoding is 'utf16'")]
    [InlineData("""{ "version": "2.0", "logging": { "logLevel": { "default": "Loud" } } }""", "logging.logLevel.default is 'Loud'")]
    [InlineData("""{ "version": "2.0", """, "not valid JSON")]
    public void Bad_values_are_named(string json, string expected)
    {
        var e = Assert.Throws<HostJsonException>(() => HostJson.Parse(json));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Hub_name_may_refer_to_an_app_setting()
    {
        var h = HostJson.Parse("""{ "version": "2.0", "extensions": { "durableTask": { "hubName": "%MY_HUB%" } } }""");
        Assert.Equal("%MY_HUB%", h.DurableTask.HubName);
    }

    [Theory]
    [InlineData("""{ "IsEncrypted": true, "Values": {} }""", "IsEncrypted")]
    [InlineData("""{ "Values": { "A": 1 } }""", "Values.A is Number")]
    [InlineData("""{ "Host": { "LocalHttpPort": 70000 } }""", "LocalHttpPort is 70000")]
    public void Bad_local_settings_are_named(string json, string expected)
    {
        var e = Assert.Throws<HostJsonException>(() => LocalSettings.Parse(json));
        Assert.Contains(expected, e.Message);
    }
}
