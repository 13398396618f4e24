namespace Durable.Core.Failures;

/// <summary>
/// Marks a failure that another attempt may fix (a lost connection, a lock wait, a tablet being replaced). Activities
/// wrap such failures in it at their boundary, because an orchestration only sees a failed activity's error type and
/// message, not the exception: the retry policy then retries exactly these and nothing else. The message is the
/// original one, so what operators read does not change; the original exception is the inner one.
/// </summary>
public sealed class TransientFailureException(Exception inner) : Exception(inner.Message, inner);
