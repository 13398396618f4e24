using Durable.AzureStorage;
using Durable.DurableTask.Runtime;

namespace Durable.DurableTask.AzureStorage;

/// <summary>
/// One dequeued queue message, which may carry several task messages ("parts"): a fan-out's activities travel packed
/// into a few work-item messages, and the replies one activity batch produces travel to their instance together.
/// Every part's receipt points at the same handle, so the queue message is deleted once, when all its parts are
/// finished; a message that has to come back (abandoned, host stopping) or stay locked while some parts still run is
/// rewritten to carry only the parts whose reply is not yet durable, so a part whose completion was sent never runs
/// again, exactly as a single-activity message that was deleted.
/// </summary>
internal sealed class QueueHandle
{
    private readonly bool[] _done;
    private readonly bool[] _released;

    public QueueHandle(QueueClient queue, QueueMessage message, AzureStorageOrchestrationService.Envelope envelope, IReadOnlyList<TaskMessage> parts, bool rewritable)
    {
        Queue = queue;
        MessageId = message.MessageId;
        PopReceipt = message.PopReceipt!;
        NextVisible = message.NextVisibleTime ?? DateTimeOffset.UtcNow;
        Envelope = envelope;
        Parts = parts;
        Rewritable = rewritable;
        _done = new bool[parts.Count];
        _released = new bool[parts.Count];
        PartsInText = parts.Count;
    }

    public QueueClient Queue { get; }

    public string MessageId { get; }

    /// <summary>Changes with every update of the message; guarded by <see cref="Lock"/>.</summary>
    public string PopReceipt { get; set; }

    public DateTimeOffset NextVisible { get; set; }

    public AzureStorageOrchestrationService.Envelope Envelope { get; }

    public IReadOnlyList<TaskMessage> Parts { get; }

    /// <summary>False for large-message stubs and unreadable messages: only their visibility may change, not their text.</summary>
    public bool Rewritable { get; }

    /// <summary>Serialises the calls that use and renew the pop receipt (an update invalidates the old one).</summary>
    public SemaphoreSlim Lock { get; } = new(1, 1);

    /// <summary>Guards the part bookkeeping below.</summary>
    public object Gate { get; } = new();

    /// <summary>Replies of finished parts waiting for the next group send (guarded by <see cref="Gate"/>).</summary>
    public List<PendingReply> Ready { get; } = new();

    /// <summary>True while one caller sends the ready replies; the others wait for it (group commit).</summary>
    public bool Flushing { get; set; }

    /// <summary>How many parts the message text on the queue carries now.</summary>
    public int PartsInText { get; set; }

    public string? LastError { get; set; }

    public TimeSpan ReleaseDelay { get; set; }

    public void MarkDone(int part) => _done[part] = true;

    public void MarkReleased(int part) => _released[part] = true;

    /// <summary>Parts neither finished nor given back: still running (or queued) on this host.</summary>
    public bool AnyRunning()
    {
        for (var i = 0; i < Parts.Count; i++)
        {
            if (!_done[i] && !_released[i])
            {
                return true;
            }
        }

        return false;
    }

    public bool AnyReleased() => _released.Any(r => r);

    /// <summary>Parts whose reply is not durable yet: what the message must still carry.</summary>
    public List<TaskMessage> NotDone() => Parts.Where((_, i) => !_done[i]).ToList();

    internal sealed record PendingReply(int Part, TaskMessage Reply, TaskCompletionSource Sent);
}
