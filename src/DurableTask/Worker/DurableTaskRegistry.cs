namespace Durable.DurableTask.Worker;

/// <summary>
/// Orchestrators and activities a worker can run (Microsoft.DurableTask <c>DurableTaskRegistry</c>). An orchestrator
/// may be registered under several versions: an instance always runs the version it started with, and new instances
/// that name no version get the newest one.
/// </summary>
public sealed class DurableTaskRegistry
{
    private readonly Dictionary<string, SortedDictionary<string, Func<ITaskOrchestrator>>> _orchestrators = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, Func<ITaskActivity>> _activities = new(StringComparer.OrdinalIgnoreCase);

    public DurableTaskRegistry AddOrchestrator(TaskName name, Func<ITaskOrchestrator> factory, string version = "")
    {
        ArgumentNullException.ThrowIfNull(factory);
        if (!_orchestrators.TryGetValue(name.Name, out var versions))
        {
            versions = new SortedDictionary<string, Func<ITaskOrchestrator>>(Comparer<string>.Create(OrchestrationVersion.Compare));
            _orchestrators[name.Name] = versions;
        }

        if (!versions.TryAdd(version ?? string.Empty, factory))
        {
            throw new ArgumentException($"Orchestrator '{name}' version '{version}' is already registered.", nameof(name));
        }

        return this;
    }

    public DurableTaskRegistry AddOrchestrator<T>(string version = "")
        where T : ITaskOrchestrator, new() => AddOrchestrator(typeof(T).Name, () => new T(), version);

    public DurableTaskRegistry AddOrchestratorFunc<TInput, TOutput>(TaskName name, Func<TaskOrchestrationContext, TInput, Task<TOutput>> run, string version = "") =>
        AddOrchestrator(name, () => new FuncTaskOrchestrator<TInput, TOutput>(run), version);

    public DurableTaskRegistry AddOrchestratorFunc<TInput>(TaskName name, Func<TaskOrchestrationContext, TInput, Task> run, string version = "") =>
        AddOrchestrator(name, () => new FuncTaskOrchestrator<TInput, object?>(async (c, i) =>
        {
            await run(c, i);
            return null;
        }), version);

    public DurableTaskRegistry AddActivity(TaskName name, Func<ITaskActivity> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        if (!_activities.TryAdd(name.Name, factory))
        {
            throw new ArgumentException($"Activity '{name}' is already registered.", nameof(name));
        }

        return this;
    }

    public DurableTaskRegistry AddActivity<T>()
        where T : ITaskActivity, new() => AddActivity(typeof(T).Name, () => new T());

    public DurableTaskRegistry AddActivityFunc<TInput, TOutput>(TaskName name, Func<TaskActivityContext, TInput, Task<TOutput>> run) =>
        AddActivity(name, () => new FuncTaskActivity<TInput, TOutput>(run));

    public DurableTaskRegistry AddActivityFunc<TInput, TOutput>(TaskName name, Func<TaskActivityContext, TInput, TOutput> run) =>
        AddActivity(name, () => new FuncTaskActivity<TInput, TOutput>((c, i) => Task.FromResult(run(c, i))));

    public DurableTaskRegistry AddActivityFunc<TInput>(TaskName name, Func<TaskActivityContext, TInput, Task> run) =>
        AddActivity(name, () => new FuncTaskActivity<TInput, object?>(async (c, i) =>
        {
            await run(c, i);
            return null;
        }));

    public IReadOnlyCollection<string> OrchestratorNames => _orchestrators.Keys;

    public IReadOnlyCollection<string> ActivityNames => _activities.Keys;

    /// <summary>The newest registered version of <paramref name="name"/>, or null when it is not registered.</summary>
    public string? DefaultVersion(string name) =>
        _orchestrators.TryGetValue(name, out var versions) && versions.Count > 0 ? versions.Keys.Last() : null;

    public IReadOnlyList<string> Versions(string name) =>
        _orchestrators.TryGetValue(name, out var versions) ? versions.Keys.ToList() : [];

    public bool TryCreateOrchestrator(string name, string version, out ITaskOrchestrator? orchestrator)
    {
        orchestrator = null;
        if (_orchestrators.TryGetValue(name, out var versions) && versions.TryGetValue(version ?? string.Empty, out var factory))
        {
            orchestrator = factory();
            return true;
        }

        return false;
    }

    public bool TryCreateActivity(string name, out ITaskActivity? activity)
    {
        activity = null;
        if (_activities.TryGetValue(name, out var factory))
        {
            activity = factory();
            return true;
        }

        return false;
    }
}
