using System.Text.Json;
using Durable.Workflows;

namespace Durable.Functions.Tests;

/// <summary>
/// <c>dry_run</c> over HTTP for switchtraffic, reversetraffic, complete and cancel: computed by the host from the
/// workflow's real state, refused (409, naming why) where the command would be, and changing nothing.
/// </summary>
[Trait("Category", "Integration")]
public sealed class MoveTablesDryRunApiTests(MoveTablesApiFixture bed) : IClassFixture<MoveTablesApiFixture>
{
    private async Task<(int Status, JsonElement Body)> DryAsync(string workflow, string action, object? body = null)
    {
        var json = JsonSerializer.SerializeToNode(body ?? new { })!.AsObject();
        json["dry_run"] = true;
        var before = await bed.SnapshotAsync();
        var (status, answer, text) = await bed.SendAsync(HttpMethod.Post, $"/api/movetables/customer/{workflow}/{action}", json.ToJsonString());
        Assert.True(status is 200 or 409, $"{action} dry run: {status} {text}");
        Assert.Equal(before, await bed.SnapshotAsync());
        return (status, answer);
    }

    private static List<string> Steps(JsonElement body) => [.. body.GetProperty("steps").EnumerateArray().Select(s => s.GetString()!)];

    [Fact]
    public async Task Dry_runs_come_from_the_host_and_are_refused_where_the_command_would_be()
    {
        var wf = $"dry_{bed.Suffix}";
        var (created, _, text) = await bed.PostAsync($"/api/movetables/customer/{wf}/create", new { source_keyspace = "commerce", tables = new[] { bed.TableB }, vdiff_interval = "off" });
        Assert.True(created == 202, text);
        var running = await bed.WaitStateAsync(wf, s => s.Phase is Phases.Running or Phases.Failed, "copied and replicating");
        Assert.True(running.Phase == Phases.Running, running.LastError);

        // Before the switch: complete is refused as the command is; cancel would drop the target table it created.
        var (completeStatus, completeBody) = await DryAsync(wf, "complete");
        Assert.Equal(409, completeStatus);
        Assert.Contains("not all traffic is switched", completeBody.GetProperty("message").GetString());
        var (cancelStatus, cancelBody) = await DryAsync(wf, "cancel");
        Assert.True(cancelStatus == 200, cancelBody.ToString());
        Assert.Contains($"Drop the tables [{bed.TableB}] in keyspace customer", Steps(cancelBody));
        Assert.StartsWith("Dry Run results for Cancel run at ", cancelBody.GetProperty("text").GetString());
        Assert.Contains($"\nParameters: --dry-run customer.{wf}\n", cancelBody.GetProperty("text").GetString());

        // The switch's dry run: reads move with the writes, after the guards.
        var (switchStatus, switchBody) = await DryAsync(wf, "switchtraffic", new { @switch = new { timeout_seconds = 30 } });
        Assert.True(switchStatus == 200, switchBody.ToString());
        Assert.Contains($"\nParameters: --tablet-types=RDONLY,REPLICA,PRIMARY --max-replication-lag-allowed=30s --timeout=30s --dry-run customer.{wf}\n", switchBody.GetProperty("text").GetString());
        var steps = Steps(switchBody);
        Assert.Equal("Lock keyspace commerce", steps[0]);
        Assert.True(steps.FindIndex(s => s.StartsWith("Arm write guards", StringComparison.Ordinal))
                    < steps.FindIndex(s => s.EndsWith("], with the writes", StringComparison.Ordinal)), string.Join("\n", steps));
        Assert.Contains(nameof(ISwitcher.CommitAsync), switchBody.GetProperty("path").EnumerateArray().Select(p => p.GetString()));

        var switched = await bed.CommandAsync(wf, "switchtraffic", new { @switch = new { timeout_seconds = 30 } });
        Assert.True(switched.State == "done", switched.Message);

        // After it: cancel is refused as the command is (writes are switched); complete lists the source table.
        var (cancelAfter, cancelAfterBody) = await DryAsync(wf, "cancel");
        Assert.Equal(409, cancelAfter);
        Assert.Contains("writes are switched", cancelAfterBody.GetProperty("message").GetString());
        var (completeAfter, completeAfterBody) = await DryAsync(wf, "complete", new { cleanup = new { keep_data = true } });
        Assert.True(completeAfter == 200, completeAfterBody.ToString());
        Assert.Contains($"Keep the tables [{bed.TableB}] in keyspace commerce (--keep-data)", Steps(completeAfterBody));
        var (reverseStatus, reverseBody) = await DryAsync(wf, "reversetraffic", new { @switch = new { tablet_types = new[] { "RDONLY" } } });
        Assert.True(reverseStatus == 200, reverseBody.ToString());
        Assert.Contains($"Switch reads for tables [{bed.TableB}] to keyspace commerce for tablet types [RDONLY]", Steps(reverseBody));

        // Back, and cancelled, so the fixture's table is free again.
        var reversed = await bed.CommandAsync(wf, "reversetraffic", new { @switch = new { timeout_seconds = 30 } });
        Assert.True(reversed.State == "done", reversed.Message);
        var cancelled = await bed.CommandAsync(wf, "cancel", new { cleanup = new { keep_data = true } });
        Assert.True(cancelled.State == "done", cancelled.Message);
    }
}
