using Durable.Workflows;
using Microsoft.DurableTask.Client;

namespace Durable.Functions.Management;

/// <summary>
/// What a workflow still owns in the cluster: its streams, its write guards (the denied tables), its routing rules and
/// its records. Terminating or purging its orchestration would orphan them: nothing would ever lift the guards, so
/// writes to the tables would stay refused. Terminate and purge are refused while the list is not empty; Cancel (or
/// Complete) is what removes them.
/// </summary>
public static class WorkflowHoldings
{
    /// <summary>
    /// The refusal for <paramref name="operation"/> (terminate, purge) of the workflow whose orchestration is
    /// <paramref name="meta"/>, or null when the instance is no workflow or the workflow owns nothing any more.
    /// </summary>
    public static async Task<string?> RefusalAsync(MoveTablesEnvironment env, OrchestrationMetadata meta, string operation, CancellationToken ct)
    {
        WorkflowState? state;
        try
        {
            state = meta.SerializedCustomStatus is null ? meta.ReadInputAs<WorkflowState>() : meta.ReadCustomStatusAs<WorkflowState>();
        }
        catch (System.Text.Json.JsonException)
        {
            return null; // not a workflow's orchestration (e.g. a VDiff): nothing of a workflow to orphan
        }

        if (state is null || string.IsNullOrEmpty(state.Spec.Workflow) || string.IsNullOrEmpty(state.Spec.TargetKeyspace))
        {
            return null;
        }

        var held = await FindAsync(env, state, ct).ConfigureAwait(false);
        if (held.Count == 0)
        {
            return null;
        }

        var spec = state.Spec;
        var command = $"durablectl {spec.Kind} --workflow {spec.Workflow} --target-keyspace {spec.TargetKeyspace} cancel";
        return $"Cannot {operation} {spec.Kind} workflow {spec.TargetKeyspace}.{spec.Workflow} (instance {meta.InstanceId}, phase {state.Phase}): it still owns " +
               $"{string.Join("; ", held)}. {char.ToUpperInvariant(operation[0]) + operation[1..]} would leave them behind, and writes to guarded tables refused. " +
               $"Run Cancel first ({command}, or POST .../{spec.Kind.ToLowerInvariant()}/{spec.TargetKeyspace}/{spec.Workflow}/cancel), or Complete once all traffic is switched; " +
               $"they remove them, and the workflow then ends by itself.";
    }

    /// <summary>Each thing the workflow owns, described for an operator; empty when Cancel or Complete has removed them.</summary>
    public static async Task<IReadOnlyList<string>> FindAsync(MoveTablesEnvironment env, WorkflowState state, CancellationToken ct)
    {
        var spec = state.Spec;
        if (state.Phase is Phases.Completed or Phases.Cancelled)
        {
            return [];
        }

        var record = await env.Registry.GetAsync(spec.TargetKeyspace, spec.Workflow, ct).ConfigureAwait(false);
        if (record is null && state.Streams.Count == 0 && state.ReverseStreams.Count == 0)
        {
            return []; // refused before anything was created (pre-flight): it never owned anything
        }

        var held = new List<string>();
        if (state.Streams.Count > 0)
        {
            held.Add($"streams {string.Join(", ", state.Streams.Select(s => $"{s.Keyspace}/{s.Shard}#{s.Id}"))}");
        }

        if (state.ReverseStreams.Count > 0)
        {
            held.Add($"reverse streams {string.Join(", ", state.ReverseStreams.Select(s => $"{s.Keyspace}/{s.Shard}#{s.Id}"))}");
        }

        if (state.Tables.Count > 0)
        {
            // Before the write switch the target tables are guarded (the copy owns them); after it, the source tables.
            var side = state.Traffic.Primary ? spec.SourceKeyspace : spec.TargetKeyspace;
            held.Add($"write guards (denied tables) on {string.Join(", ", state.Tables.Select(t => $"{side}.{t}"))}");
        }

        if (spec.Kind == WorkflowKinds.MoveTables && state.Tables.Count > 0)
        {
            var rules = (await env.Store.GetRoutingRulesAsync(ct).ConfigureAwait(false)).Value;
            var owned = rules.Rules.Where(r => RoutingRulesPlan.Owns(spec.SourceKeyspace, spec.TargetKeyspace, state.Tables, r)).ToList();
            if (owned.Count > 0)
            {
                held.Add($"{owned.Count} routing rules ({string.Join(", ", owned.Take(4).Select(r => r.FromTable))}{(owned.Count > 4 ? ", ..." : "")})");
            }
        }

        if (record is not null)
        {
            held.Add($"its workflow record {spec.TargetKeyspace}/{spec.Workflow}");
        }

        return held;
    }
}
