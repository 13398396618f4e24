namespace Durable.DurableTask;

/// <summary>
/// The name of an orchestrator or activity, as in Microsoft.DurableTask. Names compare case-insensitively because
/// upstream matches history events to code that way; an implicit conversion from <see cref="string"/> keeps call
/// sites short (<c>ctx.CallActivityAsync("Copy", ...)</c>).
/// </summary>
public readonly struct TaskName : IEquatable<TaskName>
{
    public TaskName(string name)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            throw new ArgumentException("A task name must be a non-empty string.", nameof(name));
        }

        Name = name;
    }

    public string Name { get; }

    public static implicit operator TaskName(string name) => new(name);

    public static implicit operator string(TaskName name) => name.Name;

    public bool Equals(TaskName other) => string.Equals(Name, other.Name, StringComparison.OrdinalIgnoreCase);

    public override bool Equals(object? obj) => obj is TaskName other && Equals(other);

    public override int GetHashCode() => Name is null ? 0 : StringComparer.OrdinalIgnoreCase.GetHashCode(Name);

    public static bool operator ==(TaskName left, TaskName right) => left.Equals(right);

    public static bool operator !=(TaskName left, TaskName right) => !left.Equals(right);

    public override string ToString() => Name ?? string.Empty;
}
