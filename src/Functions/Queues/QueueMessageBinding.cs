using System.Text;
using System.Text.Json;
using Azure.Storage.Queues.Models;
using Durable.Functions.Runner;

namespace Durable.Functions.Queues;

/// <summary>
/// The parameter types a <c>[QueueTrigger]</c> binds in the isolated worker: the text as string, BinaryData or bytes,
/// the SDK's <see cref="QueueMessage"/>, or any other type deserialized from the message's JSON (a message that is not
/// valid JSON for it fails the invocation, and after maxDequeueCount attempts lands in the poison queue).
/// </summary>
internal static class QueueMessageBinding
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static object? Convert(QueueTriggerMessage message, Type type)
    {
        if (type == typeof(string))
        {
            return message.Text;
        }

        if (type == typeof(BinaryData))
        {
            return BinaryData.FromString(message.Text);
        }

        if (type == typeof(byte[]))
        {
            return Encoding.UTF8.GetBytes(message.Text);
        }

        if (type == typeof(QueueMessage))
        {
            return QueuesModelFactory.QueueMessage(message.Id, "", BinaryData.FromString(message.Text), message.DequeueCount, insertedOn: message.InsertedAt);
        }

        if (type.IsAbstract || type == typeof(object))
        {
            throw new ArgumentException($"A queue message cannot bind {type.Name}.", nameof(type));
        }

        return JsonSerializer.Deserialize(message.Text, type, Json);
    }
}
