namespace Durable.Functions.Storage;

/// <summary>A message received from a queue, with the pop receipt that deletes or updates it.</summary>
public sealed record ReceivedQueueMessage(string Id, string PopReceipt, string Text, long DequeueCount, DateTimeOffset InsertionTime);

/// <summary>
/// The queue operations the queue trigger needs. Text is the message text as stored (the trigger applies
/// messageEncoding). Implemented over Azure Storage queues; an in-memory implementation serves unit tests of the
/// trigger's logic.
/// </summary>
public interface ITriggerQueues
{
    Task CreateIfNotExistsAsync(string queue, CancellationToken cancellationToken);

    Task<IReadOnlyList<ReceivedQueueMessage>> ReceiveAsync(string queue, int maxMessages, TimeSpan visibilityTimeout, CancellationToken cancellationToken);

    /// <summary>Deletes a message; a message already gone (deleted by an earlier attempt) is not an error.</summary>
    Task DeleteAsync(string queue, string messageId, string popReceipt, CancellationToken cancellationToken);

    /// <summary>Hides the message for <paramref name="visibilityTimeout"/> more; returns the new pop receipt.</summary>
    Task<string> UpdateVisibilityAsync(string queue, string messageId, string popReceipt, TimeSpan visibilityTimeout, CancellationToken cancellationToken);

    Task SendAsync(string queue, string text, CancellationToken cancellationToken);
}

/// <summary>A timer schedule's shared record: the last occurrence some replica claimed, and the next one.</summary>
public sealed record ScheduleStatus(DateTime Last, DateTime? Next, DateTime LastUpdated, string FiredBy);

/// <summary>A <see cref="ScheduleStatus"/> with the ETag it was read at.</summary>
public sealed record ScheduleRecord(ScheduleStatus Status, string ETag);

/// <summary>
/// Where timer triggers keep one record per schedule. <see cref="TryWriteAsync"/> is the compare-and-swap that makes
/// an occurrence fire on one replica only.
/// </summary>
public interface IScheduleStore
{
    Task<ScheduleRecord?> ReadAsync(string scheduleName, CancellationToken cancellationToken);

    /// <summary>
    /// Writes the record only if it is still at <paramref name="etag"/> (null: only if it does not exist yet).
    /// Returns false when another writer got there first.
    /// </summary>
    Task<bool> TryWriteAsync(string scheduleName, ScheduleStatus status, string? etag, CancellationToken cancellationToken);
}
