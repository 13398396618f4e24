namespace Durable.Functions.Engine;

/// <summary>Instance ids become table keys, blob names and URL segments: they are checked before anything is written.</summary>
public static class InstanceIds
{
    /// <summary>1-256 printable characters without '/', '\', '#' or '?' (the characters Azure Table keys and URLs cannot carry).</summary>
    public static void Validate(string instanceId)
    {
        if (string.IsNullOrWhiteSpace(instanceId) || instanceId.Length > 256
            || instanceId.Any(c => char.IsControl(c) || c is '/' or '\\' or '#' or '?'))
        {
            throw new ArgumentException(
                $"Instance id '{instanceId}' is invalid: use 1-256 printable characters without '/', '\\', '#' or '?'.", nameof(instanceId));
        }
    }
}
