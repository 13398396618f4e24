using System.Net;

namespace Durable.AzureStorage;

/// <summary>A storage request that failed, with the HTTP status and the service's error code (e.g. <c>ConditionNotMet</c>).</summary>
public sealed class StorageException(HttpStatusCode status, string? errorCode, string message) : Exception(message)
{
    public HttpStatusCode Status { get; } = status;

    public string? ErrorCode { get; } = errorCode;

    /// <summary>True for the answers an ETag or lease guard gives when someone else changed the resource.</summary>
    public bool IsConflict => Status is HttpStatusCode.Conflict or HttpStatusCode.PreconditionFailed;

    public bool IsNotFound => Status == HttpStatusCode.NotFound;
}
