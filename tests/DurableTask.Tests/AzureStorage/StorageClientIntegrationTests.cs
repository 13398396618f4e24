using System.Text;
using Durable.AzureStorage;
using Durable.Testing;

namespace Durable.DurableTask.Tests.AzureStorage;

/// <summary>The REST client against the cluster's Azurite: every call the task hub and queue triggers rely on.</summary>
[Trait("Category", "Integration")]
public sealed class StorageClientIntegrationTests : IDisposable
{
    private readonly StorageTransport _transport = StorageTransport.FromConnectionString(LocalCluster.Current.AzureStorageConnectionString);
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..10];
    private readonly List<Func<Task>> _cleanup = new();

    public void Dispose()
    {
        foreach (var c in _cleanup)
        {
            c().GetAwaiter().GetResult();
        }

        _transport.Dispose();
    }

    private async Task<QueueClient> NewQueue(QueueMessageEncoding encoding = QueueMessageEncoding.Text)
    {
        var q = _transport.GetQueue($"t-{_suffix}-{_cleanup.Count}", encoding);
        Assert.True(await q.CreateIfNotExistsAsync());
        Assert.False(await q.CreateIfNotExistsAsync());
        _cleanup.Add(() => q.DeleteIfExistsAsync());
        return q;
    }

    private async Task<BlobContainerClient> NewContainer()
    {
        var c = _transport.GetContainer($"t-{_suffix}-{_cleanup.Count}");
        Assert.True(await c.CreateIfNotExistsAsync());
        Assert.False(await c.CreateIfNotExistsAsync());
        _cleanup.Add(() => c.DeleteIfExistsAsync());
        return c;
    }

    [Fact]
    public async Task Queue_put_get_update_delete_peek_round_trip()
    {
        var q = await NewQueue();
        var text = "<xml & \"quotes\"> ü";
        await q.PutMessageAsync(text);
        Assert.Equal(1, await q.GetApproximateMessageCountAsync());
        var peeked = Assert.Single(await q.PeekMessagesAsync());
        Assert.Equal(text, peeked.Text);
        Assert.Null(peeked.PopReceipt);

        var got = Assert.Single(await q.GetMessagesAsync(32, TimeSpan.FromSeconds(30)));
        Assert.Equal(text, got.Text);
        Assert.Equal(1, got.DequeueCount);
        Assert.Empty(await q.GetMessagesAsync(1, TimeSpan.FromSeconds(30))); // invisible now

        var updated = await q.UpdateMessageAsync(got.MessageId, got.PopReceipt!, TimeSpan.Zero, "changed");
        var again = Assert.Single(await q.GetMessagesAsync(1, TimeSpan.FromSeconds(30)));
        Assert.Equal("changed", again.Text);
        Assert.Equal(2, again.DequeueCount);

        // The receipt from before the re-dequeue is stale: the service refuses it.
        var stale = await Assert.ThrowsAsync<StorageException>(() => q.DeleteMessageAsync(again.MessageId, updated.PopReceipt));
        Assert.Equal("PopReceiptMismatch", stale.ErrorCode);
        Assert.True(await q.DeleteMessageAsync(again.MessageId, again.PopReceipt!));
        Assert.False(await q.DeleteMessageAsync(again.MessageId, again.PopReceipt!));
        Assert.Equal(0, await q.GetApproximateMessageCountAsync());
    }

    /// <summary>
    /// The hub hands a message it just put (invisible) straight to its own poller or activity dispatcher: the pop
    /// receipt the put returned must be good for update and delete, and the message must stay hidden from GETs.
    /// </summary>
    [Fact]
    public async Task A_message_put_invisible_is_updated_and_deleted_with_the_receipt_of_its_put()
    {
        var q = await NewQueue();
        var put = await q.PutMessageAsync("short-circuit", TimeSpan.FromSeconds(30));
        Assert.Empty(await q.GetMessagesAsync(32, TimeSpan.FromSeconds(30)));
        var updated = await q.UpdateMessageAsync(put.MessageId, put.PopReceipt, TimeSpan.FromSeconds(30), "rewritten");
        Assert.Empty(await q.GetMessagesAsync(32, TimeSpan.FromSeconds(30)));
        Assert.True(await q.DeleteMessageAsync(updated.MessageId, updated.PopReceipt));
        Assert.Equal(0, await q.GetApproximateMessageCountAsync());

        // The transport counts what it sent, by operation (the benchmark's cost metric).
        var counts = _transport.RequestCounts;
        Assert.Equal(1, counts["POST queue messages"]);
        Assert.Equal(2, counts["GET queue messages"]);
        Assert.Equal(1, counts["PUT queue messages"]);
        Assert.Equal(1, counts["DELETE queue messages"]);
        Assert.Equal(counts.Values.Sum(), _transport.RequestCount);
    }

    [Fact]
    public async Task Queue_visibility_delay_and_base64_encoding()
    {
        var q = await NewQueue(QueueMessageEncoding.Base64);
        await q.PutMessageAsync("later", TimeSpan.FromSeconds(2));
        Assert.Empty(await q.GetMessagesAsync(1, TimeSpan.FromSeconds(30)));
        await Task.Delay(2500);
        Assert.Equal("later", Assert.Single(await q.GetMessagesAsync(1, TimeSpan.FromSeconds(30))).Text);
        var big = new string('x', 70_000);
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => q.PutMessageAsync(big));
        Assert.Contains("exceeds the queue limit", ex.Message);
    }

    [Fact]
    public async Task Blob_etag_conditions_fence_writers()
    {
        var c = await NewContainer();
        var etag = await c.PutBlobAsync("inst/a b:c.json", Encoding.UTF8.GetBytes("v1"), "application/json",
            new Dictionary<string, string> { ["runtimeStatus"] = "Running", ["name"] = "Flow ü" }, BlobConditions.CreateOnly);
        var dup = await Assert.ThrowsAsync<StorageException>(() => c.PutBlobAsync("inst/a b:c.json", [1], conditions: BlobConditions.CreateOnly));
        Assert.True(dup.IsConflict);

        var etag2 = await c.PutBlobAsync("inst/a b:c.json", Encoding.UTF8.GetBytes("v2"), "application/json", null, BlobConditions.Match(etag));
        var stale = await Assert.ThrowsAsync<StorageException>(() => c.PutBlobAsync("inst/a b:c.json", [1], conditions: BlobConditions.Match(etag)));
        Assert.Equal(System.Net.HttpStatusCode.PreconditionFailed, stale.Status);

        var got = await c.GetBlobAsync("inst/a b:c.json");
        Assert.Equal("v2", Encoding.UTF8.GetString(got!.Content));
        Assert.Equal(etag2, got.ETag);
        Assert.Null(await c.GetBlobAsync("missing"));
        Assert.False((await Assert.ThrowsAsync<StorageException>(() => c.DeleteBlobAsync("inst/a b:c.json", BlobConditions.Match(etag)))).IsNotFound);
        Assert.True(await c.DeleteBlobAsync("inst/a b:c.json", BlobConditions.Match(etag2)));
        Assert.False(await c.DeleteBlobAsync("inst/a b:c.json"));
    }

    [Fact]
    public async Task Blob_list_pages_with_metadata()
    {
        var c = await NewContainer();
        for (var i = 0; i < 5; i++)
        {
            await c.PutBlobAsync($"p/{i}", [1], metadata: new Dictionary<string, string> { ["runtimeStatus"] = i % 2 == 0 ? "Completed" : "Running" });
        }

        await c.PutBlobAsync("other/x", [1]);
        var names = new List<string>();
        string? marker = null;
        var pages = 0;
        do
        {
            var page = await c.ListBlobsAsync("p/", marker, 2);
            pages++;
            names.AddRange(page.Items.Select(i => i.Name));
            Assert.All(page.Items, i => Assert.True(i.Metadata.ContainsKey("runtimestatus")));
            marker = page.NextMarker;
        }
        while (marker is not null);

        Assert.Equal(["p/0", "p/1", "p/2", "p/3", "p/4"], names);
        Assert.Equal(3, pages);
    }

    [Fact]
    public async Task Blob_leases_acquire_renew_release_break()
    {
        var c = await NewContainer();
        await c.PutBlobAsync("lease", [1]);
        var lease = await c.TryAcquireLeaseAsync("lease", TimeSpan.FromSeconds(15));
        Assert.NotNull(lease);
        Assert.Null(await c.TryAcquireLeaseAsync("lease", TimeSpan.FromSeconds(15)));
        await c.RenewLeaseAsync("lease", lease!);
        var noLease = await Assert.ThrowsAsync<StorageException>(() => c.PutBlobAsync("lease", [2]));
        Assert.Equal("LeaseIdMissing", noLease.ErrorCode);
        await c.PutBlobAsync("lease", [2], conditions: new BlobConditions { LeaseId = lease });
        await c.ReleaseLeaseAsync("lease", lease!);

        var second = await c.TryAcquireLeaseAsync("lease", TimeSpan.FromSeconds(60));
        Assert.NotNull(second);
        await Assert.ThrowsAsync<StorageException>(() => c.RenewLeaseAsync("lease", lease!));
        Assert.Equal(0, await c.BreakLeaseAsync("lease", TimeSpan.Zero));
        Assert.NotNull(await c.TryAcquireLeaseAsync("lease", TimeSpan.FromSeconds(15)));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => c.TryAcquireLeaseAsync("lease", TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Unreachable_endpoint_gives_a_clear_error()
    {
        using var t = StorageTransport.FromConnectionString(
            $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={StorageAccount.DevelopmentAccountKey};QueueEndpoint=http://127.0.0.1:1/devstoreaccount1;BlobEndpoint=http://127.0.0.1:1/devstoreaccount1");
        var ex = await Assert.ThrowsAsync<StorageException>(() => t.GetQueue("nope").CreateIfNotExistsAsync());
        Assert.Contains("Is Azurite running", ex.Message);
    }
}
