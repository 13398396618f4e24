using Durable.Functions.Engine;
using Durable.Functions.Runner;
using Durable.Testing;
using Microsoft.Extensions.Logging.Abstractions;

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
        Assert.Equal(TimeSpan.FromSeconds(1), h.DurableTask.MaxQueuePollingInterval);
        Assert.Equal(TimeSpan.FromSeconds(20), h.DurableTask.WorkItemQueueVisibilityTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30), h.DurableTask.ControlQueueVisibilityTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30), h.DurableTask.LeaseInterval);
        Assert.True(h.DurableTask.UseTablePartitionManagement);
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
        var d = h.DurableTask;
        Assert.Equal(HostJson.DefaultHubName, d.HubName);
        Assert.Equal("AzureStorage", d.StorageProviderType);
        Assert.Equal("AzureWebJobsStorage", d.ConnectionName);
        Assert.Equal(4, d.PartitionCount);
        // The product's defaults (docs/durable-runtime.md): faster recovery and events than Durable Functions'.
        Assert.Equal(TimeSpan.FromSeconds(1), d.MaxQueuePollingInterval);
        Assert.Equal(TimeSpan.FromSeconds(30), d.ControlQueueVisibilityTimeout);
        Assert.Equal(TimeSpan.FromSeconds(20), d.WorkItemQueueVisibilityTimeout);
        Assert.True(d.UseTablePartitionManagement);
        Assert.Equal(TimeSpan.FromSeconds(30), d.LeaseInterval);
        Assert.Equal(TimeSpan.FromSeconds(10), d.LeaseAcquireInterval);
        Assert.Equal(TimeSpan.FromSeconds(10), d.LeaseRenewInterval);
        Assert.False(d.ExtendedSessionsEnabled);
        Assert.Equal("base64", h.Queues.MessageEncoding);
    }

    [Fact]
    public void Partition_lease_and_session_settings_are_read()
    {
        var d = HostJson.Parse("""
            { "version": "2.0", "extensions": { "durableTask": {
                "extendedSessionsEnabled": true,
                "storageProvider": { "useTablePartitionManagement": false, "leaseInterval": "00:00:45", "leaseAcquireInterval": "00:00:05", "leaseRenewInterval": "00:00:15" } } } }
            """).DurableTask;
        Assert.True(d.ExtendedSessionsEnabled);
        Assert.False(d.UseTablePartitionManagement);
        Assert.Equal(TimeSpan.FromSeconds(45), d.LeaseInterval);
        Assert.Equal(TimeSpan.FromSeconds(5), d.LeaseAcquireInterval);
        Assert.Equal(TimeSpan.FromSeconds(15), d.LeaseRenewInterval);
    }

    [Fact]
    public void Durable_settings_reach_the_azure_storage_provider()
    {
        // What the former runtime's own renewal knob promised is now the provider's: the visibility of a running
        // activity's message (renewed by the framework), the control queue's, and the partition leases.
        var d = HostJson.Parse("""
            { "version": "2.0", "extensions": { "durableTask": {
                "extendedSessionsEnabled": true, "maxConcurrentActivityFunctions": 3, "maxConcurrentOrchestratorFunctions": 5,
                "storageProvider": { "partitionCount": 2, "maxQueuePollingInterval": "00:00:00.250", "controlQueueVisibilityTimeout": "00:00:40",
                  "workItemQueueVisibilityTimeout": "00:00:12", "useTablePartitionManagement": false, "leaseInterval": "00:00:20",
                  "leaseAcquireInterval": "00:00:03", "leaseRenewInterval": "00:00:04" } } } }
            """).DurableTask;
        var s = TaskHubSettings.ToAzureStorage(d, "SettingsHub", "UseDevelopmentStorage=true", "replica-7", NullLoggerFactory.Instance);
        Assert.Equal("SettingsHub", s.TaskHubName);
        Assert.Equal("replica-7", s.WorkerId);
        Assert.Equal(2, s.PartitionCount);
        Assert.Equal(TimeSpan.FromMilliseconds(250), s.MaxQueuePollingInterval);
        Assert.Equal(TimeSpan.FromSeconds(40), s.ControlQueueVisibilityTimeout);
        Assert.Equal(TimeSpan.FromSeconds(12), s.WorkItemQueueVisibilityTimeout);
        Assert.True(s.ExtendedSessionsEnabled);
        Assert.Equal(3, s.MaxConcurrentTaskActivityWorkItems);
        Assert.Equal(5, s.MaxConcurrentTaskOrchestrationWorkItems);
        Assert.False(s.UseTablePartitionManagement);
        Assert.Equal(TimeSpan.FromSeconds(20), s.LeaseInterval);
        Assert.Equal(TimeSpan.FromSeconds(3), s.LeaseAcquireInterval);
        Assert.Equal(TimeSpan.FromSeconds(4), s.LeaseRenewInterval);
        // A start with the id of an unfinished instance is refused (409), not dropped.
        Assert.True(s.ThrowExceptionOnInvalidDedupeStatus);
    }

    [Fact]
    public void The_in_memory_provider_is_refused_naming_the_one_that_remains()
    {
        var e = Assert.Throws<HostJsonException>(() => HostJson.Parse(
            """{ "version": "2.0", "extensions": { "durableTask": { "storageProvider": { "type": "InMemory" } } } }"""));
        Assert.Contains("extensions.durableTask.storageProvider.type is 'InMemory'", e.Message);
        Assert.Contains("valid: \"AzureStorage\"", e.Message);
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
    [InlineData("""{ "version": "2.0", "extensions": { "durableTask": { "extendedSessionsEnabled": "yes" } } }""",
        "extensions.durableTask.extendedSessionsEnabled is yes; valid: true or false")]
    [InlineData("""{ "version": "2.0", "extensions": { "durableTask": { "storageProvider": { "useTablePartitionManagement": 1 } } } }""",
        "extensions.durableTask.storageProvider.useTablePartitionManagement is 1; valid: true or false")]
    [InlineData("""{ "version": "2.0", "extensions": { "durableTask": { "storageProvider": { "leaseInterval": "00:00:10" } } } }""",
        "extensions.durableTask.storageProvider.leaseInterval is '00:00:10'; valid: from 00:00:15 to 00:01:00")]
    [InlineData("""{ "version": "2.0", "extensions": { "durableTask": { "storageProvider": { "leaseInterval": "00:01:01" } } } }""",
        "extensions.durableTask.storageProvider.leaseInterval is '00:01:01'; valid: from 00:00:15 to 00:01:00")]
    [InlineData("""{ "version": "2.0", "extensions": { "durableTask": { "storageProvider": { "leaseInterval": "half a minute" } } } }""",
        "extensions.durableTask.storageProvider.leaseInterval is 'half a minute'; valid: \"hh:mm:ss\"")]
    [InlineData("""{ "version": "2.0", "extensions": { "durableTask": { "storageProvider": { "leaseAcquireInterval": "00:00:00.500" } } } }""",
        "extensions.durableTask.storageProvider.leaseAcquireInterval is '00:00:00.500'; valid: from 00:00:01 to 00:05:00")]
    [InlineData("""{ "version": "2.0", "extensions": { "durableTask": { "storageProvider": { "leaseRenewInterval": "00:06:00" } } } }""",
        "extensions.durableTask.storageProvider.leaseRenewInterval is '00:06:00'; valid: from 00:00:01 to 00:05:00")]
    [InlineData("""{ "version": "2.0", "extensions": { "durableTask": { "storageProvider": { "leaseRenewInterval": "00:00:30" } } } }""",
        "extensions.durableTask.storageProvider.leaseRenewInterval (00:00:30) must be shorter than leaseInterval (00:00:30)")]
    [InlineData("""{ "version": "2.0", "extensions": { "durableTask": { "storageProvider": { "leaseInterval": "00:00:15", "leaseRenewInterval": "00:00:20" } } } }""",
        "extensions.durableTask.storageProvider.leaseRenewInterval (00:00:20) must be shorter than leaseInterval (00:00:15)")]
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
