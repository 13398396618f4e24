namespace Durable.Engine.TestHost;

/// <summary>
/// What the engine tests and this test host agree on: the environment that configures a host, the names it
/// registers and the lines it writes. The tests compile this file too (linked), so the two sides cannot drift apart.
/// </summary>
public static class HostContract
{
    /// <summary>The storage connection string (the product reads the same setting).</summary>
    public const string Connection = "AzureWebJobsStorage";

    public const string Hub = "DURABLE_TESTHOST_HUB";

    /// <summary>The directory of the runs and effects ledgers; hosts on one hub share it.</summary>
    public const string Directory = "DURABLE_TESTHOST_DIR";

    /// <summary>The worker id, as the product's host reads it; unset, machine-pid as the product does, so every process is a new worker.</summary>
    public const string WorkerId = "WEBSITE_INSTANCE_ID";

    /// <summary><see cref="TestSettings"/> (the default) or <see cref="ProductSettings"/>: host.json's built-in defaults.</summary>
    public const string Settings = "DURABLE_TESTHOST_SETTINGS";

    public const string TestSettings = "test";

    public const string ProductSettings = "product";

    /// <summary>Overrides the settings' partition count.</summary>
    public const string Partitions = "DURABLE_TESTHOST_PARTITIONS";

    /// <summary>The step (0-based) that runs for minutes, until the host stops or dies, so a test can stop or kill it mid-activity.</summary>
    public const string SlowStep = "DURABLE_TESTHOST_SLOW_STEP";

    /// <summary>
    /// N: the N-th episode commit of this process fails as a storage write can fail. The framework then abandons the
    /// orchestration work item, which is the only way the orchestration abandon fault points are reached.
    /// </summary>
    public const string FailEpisode = "DURABLE_TESTHOST_FAIL_EPISODE";

    /// <summary>A log level for the engine's own logs (stderr); Warning when unset.</summary>
    public const string LogLevel = "DURABLE_TESTHOST_LOGLEVEL";

    /// <summary>Input: the number of steps. Calls <see cref="Step"/> for 0..n-1 in order and returns their outputs joined by commas.</summary>
    public const string Chain = "Chain";

    /// <summary>Input: a step number. Waits for the <see cref="GoEvent"/>, then runs that step and returns its output.</summary>
    public const string AwaitThenStep = "AwaitThenStep";

    public const string GoEvent = "go";

    /// <summary>Input: seconds. Waits on a durable timer that long, then runs step 0 and returns its output.</summary>
    public const string TimerThenStep = "TimerThenStep";

    /// <summary>Input: a step number. Logs a run, then inserts the step's effect once, then returns <see cref="StepOutput"/>.</summary>
    public const string Step = "Step";

    /// <summary>The first stdout line of a started host, followed by a space and its worker id.</summary>
    public const string Ready = "ready";

    /// <summary>Every run of a step, repeated deliveries included: <see cref="RunLine"/>.</summary>
    public const string RunsFile = "runs.log";

    /// <summary>Each step's effect, inserted once per (instance, step) however often the step runs: <see cref="EffectLine"/> and the worker.</summary>
    public const string EffectsFile = "effects.log";

    public static string RunLine(string instanceId, int step) => $"run {instanceId} {step}";

    public static string EffectLine(string instanceId, int step) => $"effect {instanceId} {step}";

    public static string StepOutput(int step) => $"s{step}";

    public static string ChainOutput(int steps) => string.Join(',', Enumerable.Range(0, steps).Select(StepOutput));
}
