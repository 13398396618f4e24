using DurableTask.Core;

namespace Durable.Functions.Engine;

/// <summary>A framework object creator that makes a fresh object per request (the framework's own creators return one shared instance or need a type with a parameterless constructor).</summary>
internal sealed class FactoryObjectCreator<T> : ObjectCreator<T>
{
    private readonly Func<T> _create;

    public FactoryObjectCreator(string name, Func<T> create)
    {
        Name = name;
        Version = string.Empty;
        _create = create;
    }

    public override T Create() => _create();
}
