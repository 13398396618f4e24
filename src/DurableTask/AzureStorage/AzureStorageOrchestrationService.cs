using System.Collections.Concurrent;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Durable.AzureStorage;
using Durable.Core.Faults;
using Durable.DurableTask.Client;
using Durable.DurableTask.History;
using Durable.DurableTask.InMemory;
using Durable.DurableTask.Runtime;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Durable.DurableTask.AzureStorage;

/// <summary>
/// The task hub on Azure Storage queues and blobs (Azurite locally), reached through the project's REST client.
/// <list type="bullet">
/// <item>Control queues <c>{hub}-control-NN</c>, one per partition (FNV-1a of the instance id), each owned by one host
/// through a blob lease in <c>{hub}-leases</c>; a dead host's partitions are taken over when its lease expires.</item>
/// <item>A shared work-item queue <c>{hub}-workitems</c> for activities.</item>
/// <item>Instance state and history in ONE blob per instance (<c>{hub}-instances/{id}</c>), written with ETag
/// conditions; its metadata carries the status fields for queries.</item>
/// <item>Messages larger than the threshold go gzip-compressed to <c>{hub}-largemessages</c>.</item>
/// <item>Poison messages are parked in <c>{hub}-poison</c> with their reason.</item>
/// </list>
/// Commit order: send outbound messages, write the state (ETag), delete inbound messages. A crash at any point
/// re-delivers and re-runs, and the replay/dedupe rules drop the copies: messages are never lost.
/// </summary>
public sealed class AzureStorageOrchestrationService : IOrchestrationService, IOrchestrationServiceClient, IAsyncDisposable
{
    private const string HubInfoBlob = "taskhub.json";

    /// <summary>Concurrent sends of one commit.</summary>
    private const int SendParallelism = 32;

    private readonly AzureStorageOrchestrationServiceSettings _settings;
    private readonly StorageTransport _transport;
    private readonly ILogger _logger;
    private readonly QueueClient[] _controlQueues;
    private readonly QueueClient _workItems;
    private readonly QueueClient _poison;
    private readonly BlobContainerClient _instances;
    private readonly BlobContainerClient _largeMessages;
    private readonly BlobContainerClient _leases;
    private readonly ConcurrentDictionary<int, Partition> _owned = new();
    private readonly Channel<Session> _ready = Channel.CreateUnbounded<Session>();
    private readonly Channel<ActivityWorkItem> _activities = Channel.CreateUnbounded<ActivityWorkItem>();
    private readonly Backoff _activityBackoff;
    private CancellationTokenSource? _running;
    private Task? _leaseLoop;
    private Task? _activityLoop;
    private bool _created;

    public AzureStorageOrchestrationService(AzureStorageOrchestrationServiceSettings settings, ILoggerFactory? loggerFactory = null)
    {
        settings.Validate();
        _settings = settings;
        _transport = StorageTransport.FromConnectionString(settings.StorageConnectionString);
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<AzureStorageOrchestrationService>();
        var hub = settings.TaskHubName.ToLowerInvariant();
        _controlQueues = Enumerable.Range(0, settings.PartitionCount).Select(i => _transport.GetQueue($"{hub}-control-{i:00}")).ToArray();
        _workItems = _transport.GetQueue($"{hub}-workitems");
        _poison = _transport.GetQueue($"{hub}-poison");
        _instances = _transport.GetContainer($"{hub}-instances");
        _largeMessages = _transport.GetContainer($"{hub}-largemessages");
        _leases = _transport.GetContainer($"{hub}-leases");
        _activityBackoff = new Backoff(settings.MinQueuePollingInterval, settings.MaxQueuePollingInterval);
    }

    public AzureStorageOrchestrationServiceSettings Settings => _settings;

    public int MaxDequeueCount => _settings.MaxDequeueCount;

    /// <summary>Partitions this host owns right now (for tests and diagnostics).</summary>
    public IReadOnlyCollection<int> OwnedPartitions => _owned.Keys.ToList();

    public QueueClient PoisonQueue => _poison;

    /// <summary>REST calls this hub has sent so far, in total and by operation: what one activity really costs.</summary>
    public long StorageRequestCount => _transport.RequestCount;

    public IReadOnlyDictionary<string, long> StorageRequestCounts => _transport.RequestCounts;

    /// <summary>FNV-1a over the UTF-8 instance id, as upstream, so the partition of an instance never changes.</summary>
    public static int PartitionOf(string instanceId, int partitionCount)
    {
        var hash = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(instanceId))
        {
            hash ^= b;
            hash *= 16777619u;
        }

        return (int)(hash % (uint)partitionCount);
    }

    public async Task CreateIfNotExistsAsync(CancellationToken cancellationToken = default)
    {
        if (_created)
        {
            return;
        }

        await _leases.CreateIfNotExistsAsync(cancellationToken);
        var info = JsonSerializer.SerializeToUtf8Bytes(new HubInfo(_settings.TaskHubName, DateTime.UtcNow, _settings.PartitionCount));
        try
        {
            await _leases.PutBlobAsync(HubInfoBlob, info, "application/json", conditions: BlobConditions.CreateOnly, ct: cancellationToken);
        }
        catch (StorageException ex) when (ex.IsConflict)
        {
            var existing = JsonSerializer.Deserialize<HubInfo>((await _leases.GetBlobAsync(HubInfoBlob, ct: cancellationToken))!.Content)!;
            if (existing.PartitionCount != _settings.PartitionCount)
            {
                throw new InvalidOperationException(
                    $"Task hub '{_settings.TaskHubName}' was created with {existing.PartitionCount} partitions, but this host is configured for {_settings.PartitionCount}. " +
                    "The partition count cannot change after creation (instances are hashed onto partitions); use the original count or a new hub name.");
            }
        }

        var tasks = new List<Task>
        {
            _workItems.CreateIfNotExistsAsync(cancellationToken),
            _poison.CreateIfNotExistsAsync(cancellationToken),
            _instances.CreateIfNotExistsAsync(cancellationToken),
            _largeMessages.CreateIfNotExistsAsync(cancellationToken),
        };
        tasks.AddRange(_controlQueues.Select(q => (Task)q.CreateIfNotExistsAsync(cancellationToken)));
        for (var i = 0; i < _settings.PartitionCount; i++)
        {
            var name = LeaseBlob(i);
            tasks.Add(CreateLeaseBlob(name, cancellationToken));
        }

        await Task.WhenAll(tasks);
        _created = true;
    }

    private async Task CreateLeaseBlob(string name, CancellationToken ct)
    {
        try
        {
            await _leases.PutBlobAsync(name, [], conditions: BlobConditions.CreateOnly, ct: ct);
        }
        catch (StorageException ex) when (ex.IsConflict)
        {
            // Exists (possibly leased by another host): fine.
        }
    }

    /// <summary>Deletes every queue and container of the hub (tests and benchmarks clean up with it).</summary>
    public async Task DeleteAsync(CancellationToken cancellationToken = default)
    {
        var tasks = new List<Task>
        {
            _workItems.DeleteIfExistsAsync(cancellationToken),
            _poison.DeleteIfExistsAsync(cancellationToken),
            _instances.DeleteIfExistsAsync(cancellationToken),
            _largeMessages.DeleteIfExistsAsync(cancellationToken),
            _leases.DeleteIfExistsAsync(cancellationToken),
        };
        tasks.AddRange(_controlQueues.Select(q => q.DeleteIfExistsAsync(cancellationToken)));
        await Task.WhenAll(tasks);
        _created = false;
    }

    /// <summary>
    /// Encodes and decodes an instance record and a packed message once, so gzip and the JSON contracts of the hub's own
    /// types are ready before the first workflow (whose first commit otherwise paid several hundred milliseconds).
    /// </summary>
    private static void WarmUp()
    {
        var now = DateTime.UtcNow;
        var events = new List<HistoryEvent>
        {
            new OrchestratorStartedEvent { Timestamp = now },
            new ExecutionStartedEvent { OrchestrationInstance = new OrchestrationInstanceRef("warm-up", "warm-up"), Name = "WarmUp", Timestamp = now },
            new TaskScheduledEvent { EventId = 0, Name = "WarmUp", Timestamp = now },
            new TaskCompletedEvent { TaskScheduledId = 0, Result = "1", Timestamp = now },
            new OrchestratorCompletedEvent { Timestamp = now },
        };
        var state = new OrchestrationState { InstanceId = "warm-up", ExecutionId = "warm-up", Name = "WarmUp", History = events, CreatedAt = now, LastUpdatedAt = now };
        _ = ReadState(WriteState(state));
        var parts = events.Select(e => new TaskMessage { InstanceId = "warm-up", Event = e }).ToList();
        _ = RuntimeJson.Deserialize<Envelope>(RuntimeJson.Serialize(new Envelope(null, null, null, "warm-up", null, parts)));
        _ = Metadata(state);
    }

    private static string LeaseBlob(int partition) => $"control-{partition:00}";

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await CreateIfNotExistsAsync(cancellationToken);
        WarmUp();
        _running = new CancellationTokenSource();
        await BalanceLeasesAsync(_running.Token);
        _leaseLoop = Task.Run(() => LeaseLoopAsync(_running.Token), CancellationToken.None);
        _activityLoop = Task.Run(() => ActivityFetchLoopAsync(_running.Token), CancellationToken.None);
        lock (_localGate)
        {
            _localDispatch = true;
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (_running is null)
        {
            return;
        }

        await _running.CancelAsync();
        await Task.WhenAll(_leaseLoop!, _activityLoop!).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await Task.WhenAll(_cleanups.Keys.ToList()).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        foreach (var p in _owned.Values.ToList())
        {
            await ReleasePartitionAsync(p, "host stopping");
        }

        try
        {
            await _leases.DeleteBlobAsync(HostBlob, null, cancellationToken);
        }
        catch (StorageException)
        {
            // Its heartbeat simply ages out.
        }

        // Prefetched activities were never started: make them visible for other hosts right away.
        lock (_localGate)
        {
            _localDispatch = false;
        }

        var unstarted = new List<ReceivedMessage>();
        while (_activities.Reader.TryRead(out var wi))
        {
            unstarted.Add(wi.Received);
        }

        await Task.WhenAll(unstarted.GroupBy(HandleOf).Select(g => FinishPartsAsync(g.Key, g.Select(PartOf).ToList(), done: false, TimeSpan.Zero, null)));

        _running.Dispose();
        _running = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _transport.Dispose();
    }

    // ---------------------------------------------------------------- partitions and leases

    private async Task LeaseLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_settings.LeaseRenewInterval, ct);
                await BalanceLeasesAsync(ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                _logger.LogWarning(ex, "Partition lease maintenance failed");
            }
        }
    }

    /// <summary>Renews owned leases (dropping any we lost) and acquires free ones.</summary>
    private async Task BalanceLeasesAsync(CancellationToken ct)
    {
        foreach (var p in _owned.Values.ToList())
        {
            try
            {
                await _leases.RenewLeaseAsync(LeaseBlob(p.Index), p.LeaseId, ct);
                p.LeaseRenewedAt = DateTime.UtcNow;
            }
            catch (StorageException ex)
            {
                _logger.LogWarning("Lost the lease of partition {Partition}: {Error}", p.Index, ex.Message);
                await DropPartitionAsync(p);
            }
        }

        // Fair share: every live host announces itself; a host owning more than ceil(partitions / hosts) gives one back
        // per round, so a newly started host gets work without anyone stealing a lease.
        var fair = _settings.PartitionCount;
        try
        {
            fair = (int)Math.Ceiling(_settings.PartitionCount / (double)await CountLiveHostsAsync(ct));
        }
        catch (StorageException ex)
        {
            _logger.LogWarning("Host heartbeat failed: {Error}", ex.Message);
        }

        if (_owned.Count > fair && _owned.Keys.DefaultIfEmpty(-1).Max() is var extra and >= 0 && _owned.TryGetValue(extra, out var surplus))
        {
            await ReleasePartitionAsync(surplus, $"balancing: {_owned.Count} owned, fair share {fair}");
        }

        for (var i = 0; i < _settings.PartitionCount && _owned.Count < fair; i++)
        {
            if (_owned.ContainsKey(i))
            {
                continue;
            }

            var leaseId = await _leases.TryAcquireLeaseAsync(LeaseBlob(i), _settings.LeaseInterval, Guid.NewGuid().ToString(), ct);
            if (leaseId is not null)
            {
                var partition = new Partition(i, _controlQueues[i], leaseId, this);
                _owned[i] = partition;
                partition.Start(ct);
                _logger.LogInformation("Host {Worker} now owns partition {Partition}", _settings.WorkerId, i);
            }
        }
    }

    private string HostBlob => $"hosts/{_settings.WorkerId}";

    private async Task<int> CountLiveHostsAsync(CancellationToken ct)
    {
        var now = DateTime.UtcNow;
        await _leases.PutBlobAsync(HostBlob, [], metadata: new Dictionary<string, string> { ["lastSeen"] = now.ToString("o") }, ct: ct);
        var live = 0;
        string? marker = null;
        do
        {
            var page = await _leases.ListBlobsAsync("hosts/", marker, 1000, true, ct);
            live += page.Items.Count(i => i.Metadata.TryGetValue("lastseen", out var seen)
                                          && DateTime.TryParse(seen, null, System.Globalization.DateTimeStyles.RoundtripKind, out var t)
                                          && now - t.ToUniversalTime() < _settings.LeaseInterval);
            marker = page.NextMarker;
        }
        while (marker is not null);
        return Math.Max(1, live);
    }

    private async Task ReleasePartitionAsync(Partition p, string why)
    {
        await DropPartitionAsync(p);
        try
        {
            await _leases.ReleaseLeaseAsync(LeaseBlob(p.Index), p.LeaseId);
            _logger.LogInformation("Released partition {Partition}: {Why}", p.Index, why);
        }
        catch (StorageException ex)
        {
            _logger.LogWarning("Releasing partition {Partition} failed: {Error}", p.Index, ex.Message);
        }
    }

    private async Task DropPartitionAsync(Partition p)
    {
        _owned.TryRemove(p.Index, out _);
        await p.StopAsync();

        // Buffered messages nobody started: give them back now instead of after their visibility timeout.
        await Task.WhenAll(p.TakeIdleBuffered().Select(HandleOf).Distinct().Select(h => UpdateHandleAsync(h, TimeSpan.Zero, null, null)));
    }

    internal bool StillOwns(Partition p) => _owned.TryGetValue(p.Index, out var current) && ReferenceEquals(current, p)
                                             && DateTime.UtcNow - p.LeaseRenewedAt < _settings.LeaseInterval;

    // ---------------------------------------------------------------- message encoding

    /// <summary>
    /// What a queue message carries: one task message inline, a reference to a large-message blob, or several task
    /// messages of one instance (<see cref="Messages"/>: a packed fan-out or a group of activity replies).
    /// </summary>
    internal sealed record Envelope(TaskMessage? Message, string? Blob, string? LastError, string? InstanceId = null, string? MessageId = null, IReadOnlyList<TaskMessage>? Messages = null);

    private sealed record HubInfo(string TaskHubName, DateTime CreatedAt, int PartitionCount);

    /// <summary>A part of a dequeued queue message: the shared handle plus the part's index in it.</summary>
    internal sealed record QueueReceipt(QueueHandle Handle, int Part);

    private static QueueHandle HandleOf(ReceivedMessage m) => ((QueueReceipt)m.Receipt).Handle;

    private static int PartOf(ReceivedMessage m) => ((QueueReceipt)m.Receipt).Part;

    private async Task<(string Text, Envelope Envelope)> EncodeAsync(QueueClient queue, TaskMessage message, CancellationToken ct)
    {
        var envelope = new Envelope(message with { LastError = null }, null, message.LastError);
        var text = RuntimeJson.Serialize(envelope);
        if (queue.EncodedSize(text) <= _settings.LargeMessageThresholdBytes)
        {
            return (text, envelope);
        }

        var blob = $"{message.InstanceId}/message-{message.MessageId.Replace(':', '-')}-{Guid.NewGuid():N}.json.gz";
        using var buffer = new MemoryStream();
        await using (var gz = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        {
            await gz.WriteAsync(Encoding.UTF8.GetBytes(RuntimeJson.Serialize(message)), ct);
        }

        await _largeMessages.PutBlobAsync(blob, buffer.ToArray(), "application/gzip", ct: ct);
        envelope = new Envelope(null, blob, message.LastError, message.InstanceId, message.MessageId);
        return (RuntimeJson.Serialize(envelope), envelope);
    }

    /// <summary>The task messages a queue message carries (several for a packed one), each with the envelope's last error.</summary>
    private async Task<(IReadOnlyList<TaskMessage> Messages, Envelope Envelope)> DecodeAsync(string text, CancellationToken ct)
    {
        var envelope = RuntimeJson.Deserialize<Envelope>(text);
        TaskMessage message;
        if (envelope.Messages is { Count: > 0 } parts)
        {
            return (parts.Select(m => m with { LastError = envelope.LastError }).ToList(), envelope);
        }

        if (envelope.Message is not null)
        {
            message = envelope.Message;
        }
        else if (envelope.Blob is not null)
        {
            var download = await _largeMessages.GetBlobAsync(envelope.Blob, ct: ct)
                           ?? throw new InvalidDataException($"large message blob '{_largeMessages.Name}/{envelope.Blob}' is missing");
            using var gz = new GZipStream(new MemoryStream(download.Content), CompressionMode.Decompress);
            using var reader = new StreamReader(gz, Encoding.UTF8);
            message = RuntimeJson.Deserialize<TaskMessage>(await reader.ReadToEndAsync(ct));
        }
        else
        {
            throw new InvalidDataException("queue message carries neither a message nor a blob reference");
        }

        return ([message with { LastError = envelope.LastError }], envelope);
    }

    /// <summary>
    /// Splits one instance's messages into queue messages of at most <paramref name="maxParts"/> parts and under the
    /// large-message threshold, spread over at least <paramref name="spread"/> queue messages when there are that many
    /// (so a fan-out still spreads over several hosts); a message that is large on its own travels alone.
    /// </summary>
    internal static List<List<TaskMessage>> Pack(IReadOnlyList<TaskMessage> messages, int maxParts, int spread, int thresholdBytes, Func<string, int> encodedSize)
    {
        var perMessage = Math.Clamp((int)Math.Ceiling(messages.Count / (double)Math.Max(1, spread)), 1, Math.Max(1, maxParts));
        var packed = new List<List<TaskMessage>>();
        var current = new List<TaskMessage>();
        var size = 256; // the envelope around the parts
        foreach (var m in messages)
        {
            if (perMessage == 1)
            {
                // Nothing to pack (a chain's single activity or reply): skip measuring, it costs a serialization.
                packed.Add([m]);
                continue;
            }

            var bytes = encodedSize(RuntimeJson.Serialize(m with { LastError = null }));
            if (bytes > thresholdBytes / 2)
            {
                packed.Add([m]);
                continue;
            }

            if (current.Count > 0 && (current.Count >= perMessage || size + bytes + 1 > thresholdBytes))
            {
                packed.Add(current);
                current = [];
                size = 256;
            }

            current.Add(m);
            size += bytes + 1;
        }

        if (current.Count > 0)
        {
            packed.Add(current);
        }

        return packed;
    }

    /// <summary>The text of a queue message carrying <paramref name="parts"/> (inline, or through a blob when one is large).</summary>
    private async Task<(string Text, Envelope Envelope)> EncodePartsAsync(QueueClient queue, IReadOnlyList<TaskMessage> parts, CancellationToken ct)
    {
        if (parts.Count == 1)
        {
            return await EncodeAsync(queue, parts[0], ct);
        }

        var envelope = new Envelope(null, null, null, parts[0].InstanceId, null, parts.Select(m => m with { LastError = null }).ToList());
        return (RuntimeJson.Serialize(envelope), envelope);
    }

    /// <summary>Text for a message that must keep only <paramref name="parts"/>; null when its text cannot change.</summary>
    private static string? RewrittenText(QueueHandle h, IReadOnlyList<TaskMessage> parts, string? lastError)
    {
        string text;
        if (h.Rewritable)
        {
            text = parts.Count == 1
                ? RuntimeJson.Serialize(new Envelope(parts[0] with { LastError = null }, null, lastError))
                : RuntimeJson.Serialize(new Envelope(null, null, lastError, parts[0].InstanceId, null, parts.Select(m => m with { LastError = null }).ToList()));
        }
        else if (h.Envelope.Blob is not null && parts.Count == h.Parts.Count && lastError is not null)
        {
            text = RuntimeJson.Serialize(h.Envelope with { LastError = lastError });
        }
        else
        {
            return null;
        }

        return h.Queue.EncodedSize(text) > QueueClient.MaxMessageBytes ? null : text;
    }

    private Task SendAsync(TaskMessage message, CancellationToken ct) =>
        PutControlAsync(PartitionOf(message.InstanceId, _settings.PartitionCount), [message], message.VisibleAt, ct);

    /// <summary>Sends messages of one instance packed into as few control-queue messages as fit (activity replies).</summary>
    private async Task SendPackedAsync(IReadOnlyList<TaskMessage> messages, CancellationToken ct)
    {
        foreach (var group in messages.GroupBy(m => m.InstanceId, StringComparer.Ordinal))
        {
            var partition = PartitionOf(group.Key, _settings.PartitionCount);
            foreach (var parts in Pack(group.ToList(), QueueHandleMaxParts, 1, _settings.LargeMessageThresholdBytes, _controlQueues[partition].EncodedSize))
            {
                await PutControlAsync(partition, parts, null, ct);
            }
        }
    }

    /// <summary>
    /// Puts a control message. When this host owns the partition and the message is due now, it is put INVISIBLE (as if
    /// this host had just dequeued it) and handed straight to the partition's session: that saves the poller's GET and
    /// its wake-up latency on every step of a chain. It is as durable as any dequeued message: if this host dies, it
    /// becomes visible after the visibility timeout and the partition's next owner processes it.
    /// </summary>
    private async Task PutControlAsync(int partition, IReadOnlyList<TaskMessage> parts, DateTime? visibleAt, CancellationToken ct)
    {
        var queue = _controlQueues[partition];
        var (text, envelope) = await EncodePartsAsync(queue, parts, ct);
        if (_settings.LocalControlHandOver && visibleAt is null && envelope.Blob is null && _owned.TryGetValue(partition, out var owner) && StillOwns(owner))
        {
            var receipt = await queue.PutMessageAsync(text, _settings.ControlQueueVisibilityTimeout, null, ct);
            var handle = new QueueHandle(queue, Dequeued(receipt, text), envelope, parts, rewritable: true);
            if (!owner.Deliver(handle))
            {
                // The partition stopped meanwhile: let whoever owns it now see the message at once.
                await UpdateHandleAsync(handle, TimeSpan.Zero, null, null);
            }

            return;
        }

        await queue.PutMessageAsync(text, Delay(visibleAt), null, ct);
        if (_owned.TryGetValue(partition, out var p))
        {
            // Wake our own poller instead of waiting out its back-off.
            p.Poll.Reset();
        }
    }

    private static QueueMessage Dequeued(QueueMessageReceipt receipt, string text) =>
        new(receipt.MessageId, receipt.PopReceipt, 0, text, DateTimeOffset.UtcNow, receipt.NextVisibleTime);

    /// <summary>The most parts one queue message carries (a queue GET returns at most 32 messages; parts are unbounded by it).</summary>
    private const int QueueHandleMaxParts = 32;

    private readonly object _localGate = new();
    private bool _localDispatch;

    /// <summary>
    /// Puts a pack of activities. While this host's dispatcher has room, the pack is put invisible and queued for the
    /// local workers directly (the same short cut as for control messages); otherwise it is left for any host's poller.
    /// </summary>
    private async Task SendActivitiesAsync(IReadOnlyList<TaskMessage> parts, CancellationToken ct)
    {
        var (text, envelope) = await EncodePartsAsync(_workItems, parts, ct);
        bool local;
        lock (_localGate)
        {
            local = _localDispatch && envelope.Blob is null && _activities.Reader.Count + parts.Count <= _settings.ActivityPrefetch;
        }

        if (local)
        {
            var receipt = await _workItems.PutMessageAsync(text, _settings.WorkItemQueueVisibilityTimeout, null, ct);
            var handle = new QueueHandle(_workItems, Dequeued(receipt, text), envelope, parts, rewritable: true);
            lock (_localGate)
            {
                if (_localDispatch)
                {
                    for (var i = 0; i < parts.Count; i++)
                    {
                        _activities.Writer.TryWrite(new ActivityWorkItem { Received = new ReceivedMessage(parts[i], 0, new QueueReceipt(handle, i)) });
                    }

                    return;
                }
            }

            await UpdateHandleAsync(handle, TimeSpan.Zero, null, null);
            return;
        }

        await _workItems.PutMessageAsync(text, null, null, ct);
        _activityBackoff.Reset();
    }

    /// <summary>A queue caps a delay at 7 days; later messages arrive early and are re-sent by the episode.</summary>
    private static TimeSpan? Delay(DateTime? visibleAt)
    {
        if (visibleAt is not { } at)
        {
            return null;
        }

        var delay = at - DateTime.UtcNow;
        var cap = QueueClient.MaxVisibilityTimeout - TimeSpan.FromMinutes(1);
        return delay <= TimeSpan.Zero ? null : delay > cap ? cap : delay;
    }

    // ---------------------------------------------------------------- orchestration work items

    public async Task<OrchestrationWorkItem?> LockNextOrchestrationWorkItemAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Session session;
            try
            {
                session = await _ready.Reader.ReadAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return null;
            }

            var messages = session.Partition.BeginEpisode(session);
            if (messages.Count == 0 || !StillOwns(session.Partition))
            {
                session.Partition.EndEpisode(session);
                continue;
            }

            OrchestrationState? state = null;
            string? etag = null;
            try
            {
                if (session.Partition.TryGetCached(session.InstanceId, out var cached))
                {
                    // Our own last commit: the ETag still fences it, so a write by anyone else makes the commit fail.
                    (state, etag) = cached;
                }
                else
                {
                    var blob = await _instances.GetBlobAsync(session.InstanceId, ct: cancellationToken);
                    if (blob is not null)
                    {
                        state = ReadState(blob.Content);
                        etag = blob.ETag;
                    }
                }
            }
            catch (Exception ex) when (ex is StorageException or JsonException)
            {
                _logger.LogWarning(ex, "Loading instance {InstanceId} failed; abandoning its messages", session.InstanceId);
                var failed = new OrchestrationWorkItem { InstanceId = session.InstanceId, Messages = messages, HubState = session };
                await AbandonOrchestrationWorkItemAsync(failed, $"loading the instance state failed: {ex.Message}", CancellationToken.None);
                session.Partition.EndEpisode(session);
                continue;
            }

            return new OrchestrationWorkItem
            {
                InstanceId = session.InstanceId,
                Messages = messages.Where(m => m.DequeueCount <= MaxDequeueCount).ToList(),
                PoisonMessages = messages.Where(m => m.DequeueCount > MaxDequeueCount).ToList(),
                State = state,
                ETag = etag,
                HubState = session,
            };
        }
    }

    public async Task CompleteOrchestrationWorkItemAsync(OrchestrationWorkItem workItem, OrchestrationCommit commit, CancellationToken cancellationToken = default)
    {
        var session = (Session)workItem.HubState!;
        if (!StillOwns(session.Partition))
        {
            throw new OrchestrationConcurrencyException($"partition {session.Partition.Index} of instance '{workItem.InstanceId}' is no longer owned by this host");
        }

        // 1. Send everything the episode produced.
        // Bounded parallelism: a fan-out of thousands of unbounded sends only makes the storage service thrash.
        // A fan-out's activities travel packed (up to ActivityBatchSize per work-item message, spread over at least
        // ActivityBatchSpread messages so several hosts still share them): one PUT per pack instead of per activity.
        var activityPacks = Pack(commit.ActivityMessages, _settings.ActivityBatchSize, _settings.ActivityBatchSpread, _settings.LargeMessageThresholdBytes, _workItems.EncodedSize);
        var sends = activityPacks.Select(parts => (Activity: true, Parts: parts))
            .Concat(commit.OrchestratorMessages.Select(m => (Activity: false, Parts: new List<TaskMessage> { m })));
        await Parallel.ForEachAsync(
            sends,
            new ParallelOptions { MaxDegreeOfParallelism = SendParallelism, CancellationToken = cancellationToken },
            async (x, ct) => await (x.Activity ? SendActivitiesAsync(x.Parts, ct) : SendAsync(x.Parts[0], ct)));
        FaultPoints.Hit("durable.orchestration.after-send");

        // 2. Write the state, fenced by the ETag it was read with.
        if (commit.NewState is { } state)
        {
            try
            {
                session.Partition.Forget(workItem.InstanceId);
                var newETag = await _instances.PutBlobAsync(
                    workItem.InstanceId,
                    WriteState(state),
                    "application/gzip",
                    Metadata(state),
                    workItem.ETag is null ? BlobConditions.CreateOnly : BlobConditions.Match(workItem.ETag),
                    cancellationToken);
                session.Partition.Cache(workItem.InstanceId, state, newETag);
            }
            catch (StorageException ex) when (ex.IsConflict)
            {
                if (workItem.ETag is null && await SupersedePendingRecordAsync(workItem.InstanceId, state, cancellationToken) is { } etag)
                {
                    session.Partition.Cache(workItem.InstanceId, state, etag);
                }
                else
                {
                    throw new OrchestrationConcurrencyException($"instance '{workItem.InstanceId}' was written by another host first ({ex.ErrorCode})");
                }
            }
        }

        FaultPoints.Hit("durable.orchestration.after-commit");

        // 3. Delete what was consumed; defer early replies; park poison. The state is durable now, so this runs in the
        // background and the instance's next episode need not wait: a message whose delete is lost comes back and is
        // dropped as already applied.
        TrackCleanup(Task.WhenAll(SettleControlMessages(commit)));
    }

    /// <summary>
    /// The race of a new instance's first episode with its client: the client sends the start message and only then
    /// writes the Pending record, so the episode (which read no record) can find one when it commits. That record holds
    /// nothing but the start this episode applied, so the commit replaces it (ETag-checked) instead of abandoning the
    /// episode and waiting out an abandon delay: that wait was most of a first workflow's start-up time.
    /// </summary>
    private async Task<string?> SupersedePendingRecordAsync(string instanceId, OrchestrationState state, CancellationToken ct)
    {
        var blob = await _instances.GetBlobAsync(instanceId, ct: ct);
        if (blob is null)
        {
            return null;
        }

        var existing = ReadState(blob.Content);
        if (existing.Status != OrchestrationRuntimeStatus.Pending || existing.History.Count > 0 || existing.ExecutionId != state.ExecutionId
            || existing.AppliedMessageIds.Count > 0)
        {
            return null;
        }

        try
        {
            return await _instances.PutBlobAsync(instanceId, WriteState(state), "application/gzip", Metadata(state), BlobConditions.Match(blob.ETag), ct);
        }
        catch (StorageException ex) when (ex.IsConflict)
        {
            return null;
        }
    }

    /// <summary>
    /// Deletes the queue messages whose parts were all consumed, defers (once per queue message) those with an early
    /// reply among their parts, and parks poison. A packed message with a deferred part comes back whole; its consumed
    /// parts are then dropped as already applied.
    /// </summary>
    private List<Task> SettleControlMessages(OrchestrationCommit commit)
    {
        var tasks = new List<Task>();
        var poisoned = commit.Poisoned.GroupBy(p => HandleOf(p.Message)).ToList();
        var deferred = commit.Deferred.GroupBy(HandleOf).ToList();
        var kept = poisoned.Select(g => g.Key).Concat(deferred.Select(g => g.Key)).ToHashSet();
        tasks.AddRange(poisoned.Select(g => ParkAsync(g.Key, g.ToList(), delete: true)));
        tasks.AddRange(deferred.Select(g => UpdateHandleAsync(g.Key, TimeSpan.FromMilliseconds(200 * g.Max(m => m.DequeueCount)), null, null)));
        foreach (var g in commit.Consumed.GroupBy(HandleOf))
        {
            if (kept.Contains(g.Key))
            {
                continue;
            }

            if (g.Select(PartOf).Distinct().Count() == g.Key.Parts.Count)
            {
                tasks.Add(DeleteHandleAsync(g.Key));
            }
            else
            {
                // Not every part was in this episode (cannot happen while a session takes all of an instance's
                // messages): leave it; it comes back and its applied parts are dropped as duplicates.
                _logger.LogDebug("Queue message {MessageId} kept: only some of its parts were consumed", g.Key.MessageId);
            }
        }

        return tasks;
    }

    private readonly ConcurrentDictionary<Task, bool> _cleanups = new();

    private void TrackCleanup(Task task)
    {
        _cleanups[task] = true;
        task.ContinueWith(
            t =>
            {
                _cleanups.TryRemove(t, out _);
                if (t.Exception is { } ex)
                {
                    _logger.LogWarning(ex, "Deleting consumed messages failed; they will be dropped as duplicates when they reappear");
                }
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    /// <summary>
    /// The instance document, gzip-compressed: history JSON compresses about tenfold, and the blob is rewritten on every
    /// episode, so this is most of the storage bandwidth a long fan-in costs.
    /// </summary>
    private static byte[] WriteState(OrchestrationState state)
    {
        using var buffer = new MemoryStream();
        using (var gz = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        {
            System.Text.Json.JsonSerializer.Serialize(gz, state, RuntimeJson.Options);
        }

        return buffer.ToArray();
    }

    private static OrchestrationState ReadState(byte[] content)
    {
        // Plain JSON (starts with '{') is read as is, so a hand-written or older record still loads.
        if (content.Length >= 2 && content[0] == 0x1f && content[1] == 0x8b)
        {
            using var gz = new GZipStream(new MemoryStream(content), CompressionMode.Decompress);
            return System.Text.Json.JsonSerializer.Deserialize<OrchestrationState>(gz, RuntimeJson.Options)
                   ?? throw new JsonException("The instance record is empty.");
        }

        return RuntimeJson.Deserialize<OrchestrationState>(Encoding.UTF8.GetString(content));
    }

    private static Dictionary<string, string> Metadata(OrchestrationState s) => new()
    {
        ["name"] = s.Name,
        ["runtimeStatus"] = s.Status.ToString(),
        ["createdTime"] = s.CreatedAt.ToString("o"),
        ["lastUpdatedTime"] = s.LastUpdatedAt.ToString("o"),
        ["executionId"] = s.ExecutionId,
        ["version"] = s.Version,
    };

    private async Task DeleteHandleAsync(QueueHandle h)
    {
        await h.Lock.WaitAsync();
        try
        {
            await DeleteHandleLockedAsync(h);
        }
        finally
        {
            h.Lock.Release();
        }
    }

    private async Task DeleteHandleLockedAsync(QueueHandle h)
    {
        try
        {
            await h.Queue.DeleteMessageAsync(h.MessageId, h.PopReceipt);
        }
        catch (StorageException ex)
        {
            // Stale receipt (the message was re-delivered meanwhile): the copy is dropped as a duplicate later.
            _logger.LogDebug("Deleting message {MessageId} failed: {Error}", h.MessageId, ex.Message);
        }

        if (h.Envelope.Blob is { } blob)
        {
            try
            {
                await _largeMessages.DeleteBlobAsync(blob);
            }
            catch (StorageException)
            {
                // Purge removes leftovers.
            }
        }
    }

    /// <summary>Changes a message's visibility, optionally recording the last error and/or keeping only <paramref name="parts"/>.</summary>
    private async Task UpdateHandleAsync(QueueHandle h, TimeSpan visibility, string? lastError, IReadOnlyList<TaskMessage>? parts)
    {
        await h.Lock.WaitAsync();
        try
        {
            await UpdateHandleLockedAsync(h, visibility, lastError, parts);
        }
        finally
        {
            h.Lock.Release();
        }
    }

    private async Task UpdateHandleLockedAsync(QueueHandle h, TimeSpan visibility, string? lastError, IReadOnlyList<TaskMessage>? parts)
    {
        var text = lastError is null && parts is null ? null : RewrittenText(h, parts ?? h.Parts, lastError);
        try
        {
            var updated = await h.Queue.UpdateMessageAsync(h.MessageId, h.PopReceipt, visibility > QueueClient.MaxVisibilityTimeout ? QueueClient.MaxVisibilityTimeout : visibility, text);
            h.PopReceipt = updated.PopReceipt;
            h.NextVisible = updated.NextVisibleTime;
        }
        catch (StorageException ex)
        {
            _logger.LogDebug("Updating message {MessageId} failed: {Error}", h.MessageId, ex.Message);
        }
    }

    /// <summary>Puts the parts into the poison queue with their reason; deletes the original when asked (control messages).</summary>
    private async Task ParkAsync(QueueHandle h, IReadOnlyList<(ReceivedMessage Message, string Reason)> parts, bool delete)
    {
        foreach (var (m, reason) in parts)
        {
            var parked = RuntimeJson.Serialize(new { reason, queue = h.Queue.Name, message = m.Message with { LastError = reason } });
            if (_poison.EncodedSize(parked) > QueueClient.MaxMessageBytes)
            {
                parked = RuntimeJson.Serialize(new { reason, queue = h.Queue.Name, instanceId = m.Message.InstanceId, messageId = m.Message.MessageId, eventType = m.Message.Event.EventType.ToString() });
            }

            await _poison.PutMessageAsync(parked);
            _logger.LogWarning("Parked poison message: {Reason}", reason);
        }

        if (delete)
        {
            // Re-delivered meanwhile? Then the copy is parked again or dropped as a duplicate.
            await DeleteHandleAsync(h);
        }
    }

    private TimeSpan AbandonDelay(int dequeueCount)
    {
        var ticks = _settings.BaseAbandonDelay.Ticks * Math.Pow(2, Math.Min(20, Math.Max(0, dequeueCount - 1)));
        return ticks > _settings.MaxAbandonDelay.Ticks ? _settings.MaxAbandonDelay : TimeSpan.FromTicks((long)ticks);
    }

    public async Task AbandonOrchestrationWorkItemAsync(OrchestrationWorkItem workItem, string reason, CancellationToken cancellationToken = default)
    {
        var session = (Session)workItem.HubState!;
        session.Partition.Forget(workItem.InstanceId);
        await Task.WhenAll(workItem.Messages.Concat(workItem.PoisonMessages).GroupBy(HandleOf)
            .Select(g => UpdateHandleAsync(g.Key, AbandonDelay(g.Max(m => m.DequeueCount)), reason, null)));
    }

    public void ReleaseOrchestrationWorkItem(OrchestrationWorkItem workItem) => ((Session)workItem.HubState!).Partition.EndEpisode((Session)workItem.HubState!);

    // ---------------------------------------------------------------- activities

    private async Task ActivityFetchLoopAsync(CancellationToken ct)
    {
        var partsPerMessage = 1;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                // Prefetch is counted in activities, and a packed message carries several.
                var room = _settings.ActivityPrefetch - _activities.Reader.Count;
                if (room <= 0)
                {
                    await Task.Delay(_settings.MinQueuePollingInterval, ct);
                    continue;
                }

                var wakes = _activityBackoff.Wakes;
                var messages = await _workItems.GetMessagesAsync(Math.Clamp(room / Math.Max(1, partsPerMessage), 1, 32), _settings.WorkItemQueueVisibilityTimeout, ct);
                if (messages.Count == 0)
                {
                    await _activityBackoff.WaitAsync(ct, wakes);
                    continue;
                }

                _activityBackoff.Reset();
                var parts = 0;
                foreach (var qm in messages)
                {
                    IReadOnlyList<TaskMessage> decoded;
                    Envelope envelope;
                    try
                    {
                        (decoded, envelope) = await DecodeAsync(qm.Text, ct);
                    }
                    catch (Exception ex) when (ex is JsonException or InvalidDataException or StorageException)
                    {
                        await HandleUndecodableAsync(_workItems, qm, ex.Message);
                        continue;
                    }

                    if (decoded.FirstOrDefault(m => m.Event is not TaskScheduledEvent) is { } wrong)
                    {
                        await HandleUndecodableAsync(_workItems, qm, $"work-item message holds a {wrong.Event.EventType} event, not TaskScheduled");
                        continue;
                    }

                    var handle = new QueueHandle(_workItems, qm, envelope, decoded, rewritable: envelope.Blob is null);
                    parts += decoded.Count;
                    for (var i = 0; i < decoded.Count; i++)
                    {
                        _activities.Writer.TryWrite(new ActivityWorkItem { Received = new ReceivedMessage(decoded[i], qm.DequeueCount, new QueueReceipt(handle, i)) });
                    }
                }

                partsPerMessage = Math.Max(1, parts / messages.Count);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                _logger.LogWarning(ex, "Polling {Queue} failed", _workItems.Name);
                await Task.Delay(TimeSpan.FromSeconds(1), ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <summary>A message we cannot even read: retried with back-off (a blob may be late), parked once over the limit.</summary>
    private async Task HandleUndecodableAsync(QueueClient queue, QueueMessage qm, string error)
    {
        try
        {
            if (qm.DequeueCount > MaxDequeueCount)
            {
                var reason = $"Undecodable message {qm.MessageId} on {queue.Name} parked after {qm.DequeueCount} deliveries: {error}";
                await _poison.PutMessageAsync(RuntimeJson.Serialize(new { reason, queue = queue.Name, text = qm.Text.Length > 30000 ? qm.Text[..30000] : qm.Text }));
                await queue.DeleteMessageAsync(qm.MessageId, qm.PopReceipt!);
                _logger.LogWarning("{Reason}", reason);
            }
            else
            {
                await queue.UpdateMessageAsync(qm.MessageId, qm.PopReceipt!, AbandonDelay(qm.DequeueCount));
            }
        }
        catch (StorageException ex)
        {
            _logger.LogWarning("Handling undecodable message {MessageId} failed: {Error}", qm.MessageId, ex.Message);
        }
    }

    public async Task<ActivityWorkItem?> LockNextActivityWorkItemAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _activities.Reader.ReadAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    public async Task RenewActivityWorkItemAsync(ActivityWorkItem workItem, CancellationToken cancellationToken = default)
    {
        var h = HandleOf(workItem.Received);
        await h.Lock.WaitAsync(cancellationToken);
        try
        {
            // The parts of a packed message share its lock: one renewal keeps all of them, so skip while it holds well.
            if (h.NextVisible - DateTimeOffset.UtcNow > _settings.WorkItemQueueVisibilityTimeout / 2)
            {
                return;
            }

            var updated = await _workItems.UpdateMessageAsync(h.MessageId, h.PopReceipt, _settings.WorkItemQueueVisibilityTimeout, null, cancellationToken);
            h.PopReceipt = updated.PopReceipt;
            h.NextVisible = updated.NextVisibleTime;
        }
        finally
        {
            h.Lock.Release();
        }
    }

    /// <summary>
    /// Sends the reply, then finishes the activity's part of its work-item message (deleting the message when every
    /// part is finished). Replies of one message that finish while a send is under way are sent together in the next
    /// one (group commit): one PUT and one delete for a whole pack of quick activities. Returns once the reply is
    /// durable.
    /// </summary>
    public async Task CompleteActivityWorkItemAsync(ActivityWorkItem workItem, TaskMessage response, CancellationToken cancellationToken = default)
    {
        var h = HandleOf(workItem.Received);
        var reply = new QueueHandle.PendingReply(PartOf(workItem.Received), response, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        bool flush;
        lock (h.Gate)
        {
            h.Ready.Add(reply);
            flush = !h.Flushing;
            h.Flushing = true;
        }

        if (flush)
        {
            await FlushRepliesAsync(h);
        }

        await reply.Sent.Task;
    }

    private async Task FlushRepliesAsync(QueueHandle h)
    {
        while (true)
        {
            List<QueueHandle.PendingReply> batch;
            lock (h.Gate)
            {
                if (h.Ready.Count == 0)
                {
                    h.Flushing = false;
                    return;
                }

                batch = h.Ready.ToList();
                h.Ready.Clear();
            }

            try
            {
                await SendPackedAsync(batch.Select(b => b.Reply).ToList(), CancellationToken.None);
                FaultPoints.Hit("durable.activity.after-send");
                await FinishPartsAsync(h, batch.Select(b => b.Part).ToList(), done: true, TimeSpan.Zero, null);
                foreach (var b in batch)
                {
                    b.Sent.TrySetResult();
                }
            }
            catch (Exception ex)
            {
                foreach (var b in batch)
                {
                    b.Sent.TrySetException(ex);
                }
            }
        }
    }

    /// <summary>
    /// Records parts as finished (<paramref name="done"/>: reply durable) or given back, then brings the queue message in
    /// line: deleted when every part is done; otherwise rewritten to the parts not done, locked on while some still run
    /// here, or made visible after <paramref name="delay"/> once none does. A give-back while other parts still run is
    /// applied by whichever part finishes last.
    /// </summary>
    private async Task FinishPartsAsync(QueueHandle h, IReadOnlyList<int> parts, bool done, TimeSpan delay, string? reason)
    {
        // Under the message's lock from decision to request, so two finishing parts cannot write their views out of order
        // (an older, longer part list landing last would make finished parts run again after a crash).
        await h.Lock.WaitAsync();
        try
        {
            await FinishPartsLockedAsync(h, parts, done, delay, reason);
        }
        finally
        {
            h.Lock.Release();
        }
    }

    private async Task FinishPartsLockedAsync(QueueHandle h, IReadOnlyList<int> parts, bool done, TimeSpan delay, string? reason)
    {
        List<TaskMessage> remaining;
        bool running;
        TimeSpan visibility;
        string? lastError;
        lock (h.Gate)
        {
            foreach (var part in parts)
            {
                if (done)
                {
                    h.MarkDone(part);
                }
                else
                {
                    h.MarkReleased(part);
                    h.LastError = reason ?? h.LastError;
                    h.ReleaseDelay = delay > h.ReleaseDelay ? delay : h.ReleaseDelay;
                }
            }

            remaining = h.NotDone();
            running = h.AnyRunning();
            if (remaining.Count > 0 && running && remaining.Count == h.PartsInText)
            {
                // Nothing became durable and parts still run here: the message stays as it is.
                return;
            }

            visibility = running ? _settings.WorkItemQueueVisibilityTimeout : h.ReleaseDelay;
            lastError = h.LastError;
            h.PartsInText = remaining.Count;
        }

        if (remaining.Count == 0)
        {
            await DeleteHandleLockedAsync(h);
        }
        else
        {
            await UpdateHandleLockedAsync(h, visibility, lastError, remaining.Count == h.Parts.Count && lastError is null ? null : remaining);
        }
    }

    public Task AbandonActivityWorkItemAsync(ActivityWorkItem workItem, string reason, CancellationToken cancellationToken = default) =>
        FinishPartsAsync(HandleOf(workItem.Received), [PartOf(workItem.Received)], done: false, AbandonDelay(workItem.Received.DequeueCount), reason);

    /// <summary>Records the poison activity in the poison queue; its failure reply was sent and its part finished before.</summary>
    public Task ParkActivityWorkItemAsync(ActivityWorkItem workItem, string reason, CancellationToken cancellationToken = default) =>
        ParkAsync(HandleOf(workItem.Received), [(workItem.Received, reason)], delete: false);

    // ---------------------------------------------------------------- client

    public Task SendMessageAsync(TaskMessage message, CancellationToken cancellationToken = default) => SendAsync(message, cancellationToken);

    public async Task CreateInstanceAsync(TaskMessage startMessage, CancellationToken cancellationToken = default)
    {
        await CreateIfNotExistsAsync(cancellationToken);
        var started = (ExecutionStartedEvent)startMessage.Event;
        var existing = await _instances.GetBlobAsync(startMessage.InstanceId, ct: cancellationToken);
        OrchestrationState? existingState = existing is null ? null : ReadState(existing.Content);
        if (existingState is { IsTerminal: false })
        {
            throw new OrchestrationAlreadyExistsException(
                $"An orchestration with instance id '{startMessage.InstanceId}' already exists and is {existingState.Status}.");
        }

        // Message first, then the Pending record: a crash in between leaves a message the worker turns into the instance.
        await SendAsync(startMessage, cancellationToken);
        var now = DateTime.UtcNow;
        var pending = new OrchestrationState
        {
            InstanceId = startMessage.InstanceId,
            ExecutionId = started.OrchestrationInstance.ExecutionId,
            Name = started.Name,
            Version = started.Version,
            Status = OrchestrationRuntimeStatus.Pending,
            Input = started.Input,
            CreatedAt = now,
            LastUpdatedAt = now,
            Tags = started.Tags,
        };
        try
        {
            await _instances.PutBlobAsync(startMessage.InstanceId, WriteState(pending), "application/gzip", Metadata(pending),
                existing is null ? BlobConditions.CreateOnly : BlobConditions.Match(existing.ETag), cancellationToken);
        }
        catch (StorageException ex) when (ex.IsConflict)
        {
            var now2 = await GetStateAsync(startMessage.InstanceId, cancellationToken);
            if (now2?.ExecutionId != pending.ExecutionId)
            {
                throw new OrchestrationAlreadyExistsException(
                    $"An orchestration with instance id '{startMessage.InstanceId}' was started concurrently (it is {now2?.Status}).");
            }

            // A worker already picked up our start message and wrote the instance: nothing to do.
        }
    }

    public async Task<OrchestrationState?> GetStateAsync(string instanceId, CancellationToken cancellationToken = default)
    {
        var blob = await _instances.GetBlobAsync(instanceId, ct: cancellationToken);
        return blob is null ? null : ReadState(blob.Content);
    }

    public async Task<Page<OrchestrationState>> QueryAsync(OrchestrationQuery query, CancellationToken cancellationToken = default)
    {
        var statuses = query.Statuses?.ToHashSet();
        var results = new List<OrchestrationState>();
        var marker = query.ContinuationToken;
        do
        {
            var page = await _instances.ListBlobsAsync(query.InstanceIdPrefix, marker, query.PageSize, true, cancellationToken);
            marker = page.NextMarker;
            foreach (var item in page.Items)
            {
                // Filter on metadata first; download only what matches.
                var status = item.Metadata.TryGetValue("runtimestatus", out var s) && Enum.TryParse<OrchestrationRuntimeStatus>(s, out var st) ? st : (OrchestrationRuntimeStatus?)null;
                var created = item.Metadata.TryGetValue("createdtime", out var c) && DateTime.TryParse(c, null, System.Globalization.DateTimeStyles.RoundtripKind, out var ct2) ? ct2 : (DateTime?)null;
                if (status is { } known && statuses is { Count: > 0 } && !statuses.Contains(known))
                {
                    continue;
                }

                if (created is { } cr && ((query.CreatedFrom is { } f && cr < f.UtcDateTime) || (query.CreatedTo is { } t && cr > t.UtcDateTime)))
                {
                    continue;
                }

                var state = await GetStateAsync(item.Name, cancellationToken);
                if (state is not null && InstanceQuery.Matches(state, query, statuses))
                {
                    results.Add(state);
                }
            }
        }
        while (results.Count == 0 && marker is not null);

        return new Page<OrchestrationState>(results, marker);
    }

    public async Task<int> PurgeAsync(string instanceId, CancellationToken cancellationToken = default)
    {
        var blob = await _instances.GetBlobAsync(instanceId, ct: cancellationToken);
        if (blob is null)
        {
            return 0;
        }

        var state = ReadState(blob.Content);
        if (!state.IsTerminal)
        {
            throw new InvalidOperationException($"Instance '{instanceId}' is {state.Status}; only finished instances can be purged.");
        }

        try
        {
            await _instances.DeleteBlobAsync(instanceId, BlobConditions.Match(blob.ETag), cancellationToken);
        }
        catch (StorageException ex) when (ex.IsConflict)
        {
            // Restarted between our read and the delete: it is no longer the finished instance we were asked to purge.
            return 0;
        }

        string? marker = null;
        do
        {
            var page = await _largeMessages.ListBlobsAsync(instanceId + "/", marker, 1000, false, cancellationToken);
            await Task.WhenAll(page.Items.Select(i => _largeMessages.DeleteBlobAsync(i.Name, null, cancellationToken)));
            marker = page.NextMarker;
        }
        while (marker is not null);

        return 1;
    }

    // ---------------------------------------------------------------- per-partition polling and sessions

    /// <summary>Messages of one instance waiting for (or in) an episode on this host.</summary>
    internal sealed class Session(string instanceId, Partition partition)
    {
        public string InstanceId { get; } = instanceId;

        public Partition Partition { get; } = partition;

        public List<ReceivedMessage> Pending { get; } = new();

        public bool Running { get; set; }

        public bool Queued { get; set; }
    }

    internal sealed class Partition(int index, QueueClient queue, string leaseId, AzureStorageOrchestrationService hub)
    {
        private readonly object _gate = new();
        private readonly Dictionary<string, Session> _sessions = new(StringComparer.Ordinal);
        private CancellationTokenSource? _cts;
        private Task? _loop;
        private int _buffered;

        public int Index { get; } = index;

        public QueueClient Queue { get; } = queue;

        public string LeaseId { get; } = leaseId;

        public DateTime LeaseRenewedAt { get; set; } = DateTime.UtcNow;

        public Backoff Poll { get; } = new(hub._settings.MinQueuePollingInterval, hub._settings.MaxQueuePollingInterval);

        public void Start(CancellationToken hostToken)
        {
            _cts = CancellationTokenSource.CreateLinkedTokenSource(hostToken);
            _loop = Task.Run(() => PollLoopAsync(_cts.Token), CancellationToken.None);
        }

        public async Task StopAsync()
        {
            if (_cts is null)
            {
                return;
            }

            await _cts.CancelAsync();
            await _loop!.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            lock (_gate)
            {
                // From now on messages are given back (TakeIdleBuffered), not delivered here.
                _stopped = true;
            }
        }

        private bool _stopped;

        /// <summary>Takes a message this host put for its own partition, as if the poller had dequeued it; false once stopped.</summary>
        public bool Deliver(QueueHandle handle)
        {
            lock (_gate)
            {
                if (_stopped)
                {
                    return false;
                }

                for (var i = 0; i < handle.Parts.Count; i++)
                {
                    Add(new ReceivedMessage(handle.Parts[i], 0, new QueueReceipt(handle, i)));
                }

                return true;
            }
        }

        private readonly Dictionary<string, (OrchestrationState State, string ETag)> _stateCache = new(StringComparer.Ordinal);

        public bool TryGetCached(string instanceId, out (OrchestrationState State, string ETag) entry)
        {
            lock (_gate)
            {
                return _stateCache.TryGetValue(instanceId, out entry);
            }
        }

        /// <summary>Keeps the state this host just committed, so the instance's next episode skips re-reading it.</summary>
        public void Cache(string instanceId, OrchestrationState state, string etag)
        {
            lock (_gate)
            {
                if (state.IsTerminal)
                {
                    _stateCache.Remove(instanceId);
                    return;
                }

                if (_stateCache.Count >= 1000 && !_stateCache.ContainsKey(instanceId))
                {
                    _stateCache.Remove(_stateCache.Keys.First());
                }

                _stateCache[instanceId] = (state, etag);
            }
        }

        public void Forget(string instanceId)
        {
            lock (_gate)
            {
                _stateCache.Remove(instanceId);
            }
        }

        /// <summary>Messages of sessions that are not in an episode; removed from the buffer.</summary>
        public List<ReceivedMessage> TakeIdleBuffered()
        {
            lock (_gate)
            {
                var idle = _sessions.Values.Where(s => !s.Running).ToList();
                var result = idle.SelectMany(s => s.Pending).ToList();
                foreach (var s in idle)
                {
                    _sessions.Remove(s.InstanceId);
                }

                _buffered -= result.Count;
                return result;
            }
        }

        private async Task PollLoopAsync(CancellationToken ct)
        {
            var settings = hub._settings;
            while (!ct.IsCancellationRequested)
            {
                try
                {
                    if (Volatile.Read(ref _buffered) >= settings.ControlQueueBufferThreshold)
                    {
                        await Task.Delay(settings.MinQueuePollingInterval, ct);
                        continue;
                    }

                    var wakes = Poll.Wakes;
                    var messages = await Queue.GetMessagesAsync(settings.ControlQueueBatchSize, settings.ControlQueueVisibilityTimeout, ct);
                    if (messages.Count == 0)
                    {
                        await Poll.WaitAsync(ct, wakes);
                        continue;
                    }

                    Poll.Reset();
                    foreach (var qm in messages)
                    {
                        (IReadOnlyList<TaskMessage> Messages, Envelope Envelope) decoded;
                        try
                        {
                            decoded = await hub.DecodeAsync(qm.Text, ct);
                        }
                        catch (Exception ex) when (ex is JsonException or InvalidDataException or StorageException)
                        {
                            var addressed = TryReadEnvelope(qm.Text);
                            if (qm.DequeueCount > hub.MaxDequeueCount && addressed?.InstanceId is { } instanceId)
                            {
                                // Unreadable but addressed: let the instance's episode park it and record the reason in its status.
                                var standIn = new TaskMessage
                                {
                                    InstanceId = instanceId,
                                    MessageId = addressed.MessageId ?? qm.MessageId,
                                    Event = new GenericEvent { Data = "unreadable message" },
                                    LastError = ex.Message,
                                };
                                Add(new ReceivedMessage(standIn, qm.DequeueCount, new QueueReceipt(new QueueHandle(Queue, qm, addressed, [standIn], rewritable: false), 0)));
                                continue;
                            }

                            await hub.HandleUndecodableAsync(Queue, qm, ex.Message);
                            continue;
                        }

                        var handle = new QueueHandle(Queue, qm, decoded.Envelope, decoded.Messages, rewritable: decoded.Envelope.Blob is null);
                        for (var i = 0; i < decoded.Messages.Count; i++)
                        {
                            Add(new ReceivedMessage(decoded.Messages[i], qm.DequeueCount, new QueueReceipt(handle, i)));
                        }
                    }
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex)
                {
                    hub._logger.LogWarning(ex, "Polling {Queue} failed", Queue.Name);
                    await Task.Delay(TimeSpan.FromSeconds(1), ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }
            }
        }

        private static Envelope? TryReadEnvelope(string text)
        {
            try
            {
                return RuntimeJson.Deserialize<Envelope>(text);
            }
            catch (JsonException)
            {
                return null;
            }
        }

        private void Add(ReceivedMessage m)
        {
            Session? toQueue = null;
            lock (_gate)
            {
                if (!_sessions.TryGetValue(m.Message.InstanceId, out var session))
                {
                    session = new Session(m.Message.InstanceId, this);
                    _sessions[session.InstanceId] = session;
                }

                var id = HandleOf(m).MessageId;
                var part = PartOf(m);
                var existing = session.Pending.FindIndex(p => HandleOf(p).MessageId == id && PartOf(p) == part);
                if (existing >= 0)
                {
                    // Re-delivered while still buffered: keep the newest receipt.
                    session.Pending[existing] = m;
                }
                else
                {
                    session.Pending.Add(m);
                    _buffered++;
                }

                if (!session.Running && !session.Queued)
                {
                    session.Queued = true;
                    toQueue = session;
                }
            }

            if (toQueue is not null)
            {
                hub._ready.Writer.TryWrite(toQueue);
            }
        }

        public List<ReceivedMessage> BeginEpisode(Session session)
        {
            lock (_gate)
            {
                session.Queued = false;
                session.Running = true;
                var batch = session.Pending.ToList();
                session.Pending.Clear();
                _buffered -= batch.Count;
                return batch;
            }
        }

        public void EndEpisode(Session session)
        {
            var requeue = false;
            lock (_gate)
            {
                session.Running = false;
                if (session.Pending.Count > 0 && !session.Queued)
                {
                    session.Queued = true;
                    requeue = true;
                }
                else if (session.Pending.Count == 0 && !session.Queued)
                {
                    _sessions.Remove(session.InstanceId);
                }
            }

            if (requeue)
            {
                hub._ready.Writer.TryWrite(session);
            }
        }
    }

    /// <summary>Randomised exponential idle back-off (±20%), reset when work appears or is enqueued locally.</summary>
    internal sealed class Backoff(TimeSpan minDelay, TimeSpan max)
    {
        private readonly TimeSpan _min = minDelay;
        private readonly object _gate = new();
        private TimeSpan _current = minDelay;
        private TaskCompletionSource _reset = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _wakes;

        /// <summary>
        /// Counts resets. A poller reads it before its GET and passes it to <see cref="WaitAsync"/>: a message enqueued
        /// while an empty GET was under way then wakes the poller at once instead of after a full back-off step (in a
        /// chain of activities that wait was paid on many steps).
        /// </summary>
        public long Wakes => Interlocked.Read(ref _wakes);

        public TimeSpan Current
        {
            get
            {
                lock (_gate)
                {
                    return _current;
                }
            }
        }

        public void Reset()
        {
            lock (_gate)
            {
                _current = _min;
                Interlocked.Increment(ref _wakes);
                _reset.TrySetResult();
                _reset = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }

        public async Task WaitAsync(CancellationToken ct, long? wakesBeforePoll = null)
        {
            TimeSpan delay;
            Task reset;
            lock (_gate)
            {
                if (wakesBeforePoll is { } seen && seen != _wakes)
                {
                    return;
                }

                delay = _current * (0.8 + (Random.Shared.NextDouble() * 0.4));
                _current = TimeSpan.FromTicks(Math.Min(max.Ticks, _current.Ticks * 2));
                reset = _reset.Task;
            }

            await Task.WhenAny(Task.Delay(delay, ct), reset);
            ct.ThrowIfCancellationRequested();
        }
    }
}
