using System.Text.Json;
using Durable.Workflows;

namespace Durable.Functions.Tests;

/// <summary>
/// The MoveTables HTTP API as a pipeline meets it, on a host over the real cluster: 400 for malformed JSON and bad
/// input (naming the bad value), 409 for a taken name, a table already moving and commands the state forbids,
/// idempotent create (202 with status URLs both times), and after every refusal nothing changed.
/// </summary>
[Trait("Category", "Integration")]
public sealed class MoveTablesApiTests(MoveTablesApiFixture bed) : IClassFixture<MoveTablesApiFixture>
{
    private static string Create(string workflow) => $"/api/movetables/customer/{workflow}/create";

    private string Wf(string name) => $"{name}_{bed.Suffix}";

    /// <summary>Sends a request that must be refused with <paramref name="status"/> and change nothing; returns the message.</summary>
    private async Task<string> RefusedAsync(int status, HttpMethod method, string path, string? json, params string[] mentions)
    {
        var before = await bed.SnapshotAsync();
        var (code, body, text) = await bed.SendAsync(method, path, json);
        Assert.True(code == status, $"{method} {path} {json}: expected {status}, got {code}: {text}");
        var message = body.GetProperty("message").GetString()!;
        foreach (var m in mentions)
        {
            Assert.Contains(m, message);
        }

        Assert.Equal(before, await bed.SnapshotAsync());
        return message;
    }

    [Fact]
    public async Task Malformed_json_is_400_and_changes_nothing()
    {
        var wf = Wf("badjson");
        await RefusedAsync(400, HttpMethod.Post, Create(wf), "{\"source_keyspace\": \"commerce\", \"tables\": [", "not valid JSON");
        await RefusedAsync(400, HttpMethod.Post, Create(wf), "[\"commerce\"]", "must be a JSON object");
        await RefusedAsync(400, HttpMethod.Post, Create(wf), "{\"source_keyspace\": \"commerce\", \"tables\": \"" + bed.TableA + "\"}", "MoveTablesCreate");
        await RefusedAsync(400, HttpMethod.Post, Create(wf), "{\"source_keyspace\": \"commerce\", \"tables\": [\"" + bed.TableA + "\"], \"stop_after_copy\": \"yes\"}", "MoveTablesCreate");
        Assert.Null(await bed.StateAsync(wf));
    }

    [Fact]
    public async Task Bad_create_input_is_400_naming_the_bad_value_and_nothing_is_created()
    {
        var wf = Wf("badinput");
        string Body(object o) => JsonSerializer.Serialize(o);
        await RefusedAsync(400, HttpMethod.Post, Create(wf), Body(new { source_keyspace = "nosuchks", tables = new[] { bed.TableA } }), "nosuchks", "does not exist");
        await RefusedAsync(400, HttpMethod.Post, "/api/movetables/nosuchtarget/" + wf + "/create", Body(new { source_keyspace = "commerce", tables = new[] { bed.TableA } }), "nosuchtarget", "does not exist");
        await RefusedAsync(400, HttpMethod.Post, Create(wf), Body(new { source_keyspace = "commerce", tables = new[] { "missing_" + bed.Suffix } }), "missing_" + bed.Suffix, "does not exist");
        await RefusedAsync(400, HttpMethod.Post, Create(wf), Body(new { source_keyspace = "commerce", tables = new[] { bed.TableNoPk } }), bed.TableNoPk, "primary key");
        foreach (var crafted in new[] { "a`; DROP TABLE x; --", "x' OR '1'='1", "vt_commerce.t", "t\\", "" })
        {
            await RefusedAsync(400, HttpMethod.Post, Create(wf), Body(new { source_keyspace = "commerce", tables = new[] { crafted } }), $"'{crafted}'");
        }

        await RefusedAsync(400, HttpMethod.Post, Create("bad-name"), Body(new { source_keyspace = "commerce", tables = new[] { bed.TableA } }), "bad-name");
        await RefusedAsync(400, HttpMethod.Post, Create(wf), Body(new { source_keyspace = "commerce", tables = new[] { bed.TableA }, tablet_types = "MASTER" }), "MASTER");
        await RefusedAsync(400, HttpMethod.Post, Create(wf), Body(new { source_keyspace = "commerce", tables = new[] { bed.TableA }, on_ddl = "BOGUS" }), "BOGUS");
        await RefusedAsync(400, HttpMethod.Post, Create(wf), Body(new { source_keyspace = "commerce", tables = new[] { bed.TableA }, sharded_auto_increment_handling = "REPLACE" }), "REPLACE");
        await RefusedAsync(400, HttpMethod.Post, Create(wf), Body(new { source_keyspace = "commerce", tables = new[] { bed.TableA }, sharded_auto_increment_handling = "REPLACE", global_keyspace = "nosuchglobal" }), "nosuchglobal", "does not exist");
        await RefusedAsync(400, HttpMethod.Post, Create(wf), Body(new { source_keyspace = "commerce", tables = new[] { bed.TableA }, sharded_auto_increment_handling = "REPLACE", global_keyspace = "commerce" }), "target keyspace 'customer' is unsharded");
        await RefusedAsync(400, HttpMethod.Post, Create(wf), Body(new { source_keyspace = "commerce", tables = new[] { bed.TableA }, all_tables = true }), "--all-tables");
        await RefusedAsync(400, HttpMethod.Post, Create(wf), Body(new { source_keyspace = "customer", tables = new[] { bed.TableA } }), "'customer'");
        await RefusedAsync(400, HttpMethod.Post, Create(wf), Body(new { source_keyspace = "commerce", tables = new[] { bed.TableA }, cutover_hooks = new[] { new { url = "ftp://x" } } }), "ftp://x");
        await RefusedAsync(400, HttpMethod.Post, Create(wf), Body(new { source_keyspace = "commerce", tables = new[] { bed.TableA }, source_time_zone = "Mars/Olympus" }), "Mars/Olympus");
        Assert.Null(await bed.StateAsync(wf));
        Assert.Null(await bed.Env.Registry.GetAsync("customer", wf));
    }

    [Fact]
    public async Task Create_is_idempotent_a_different_create_under_the_name_or_a_table_already_moving_is_409_and_commands_follow_the_state()
    {
        var wf = Wf("life");
        // VDiff gating has tests of its own; here the switch must follow the state alone (another host in this test
        // process may have set a default VDiff interval, which would hold the switch until a VDiff runs clean).
        var spec = new { source_keyspace = "commerce", tables = new[] { bed.TableA }, vdiff_interval = "off" };
        var (s1, first, t1) = await bed.PostAsync(Create(wf), spec);
        Assert.True(s1 == 202, t1);
        Assert.False(first.GetProperty("existing").GetBoolean());
        var id = first.GetProperty("id").GetString();
        Assert.Equal($"movetables:customer.{wf}", id);
        foreach (var url in new[] { "statusQueryGetUri", "showUri", "statusUri" })
        {
            Assert.Contains($"/api/movetables/customer/{wf}/", first.GetProperty(url).GetString());
        }

        // The same create again (a retried pipeline step), also once the copy has filled the target: the same instance.
        var (s2, second, t2) = await bed.PostAsync(Create(wf), spec);
        Assert.True(s2 == 202, t2);
        Assert.True(second.GetProperty("existing").GetBoolean());
        Assert.Equal(id, second.GetProperty("id").GetString());
        Assert.Equal(first.GetProperty("statusQueryGetUri").GetString(), second.GetProperty("statusQueryGetUri").GetString());
        var running = await bed.WaitStateAsync(wf, s => s.Phase is Phases.Running or Phases.Failed, "copied and replicating");
        Assert.True(running.Phase == Phases.Running, running.LastError);
        var (s3, third, t3) = await bed.PostAsync(Create(wf), spec);
        Assert.True(s3 == 202 && third.GetProperty("existing").GetBoolean(), t3);

        // A different create under the same name, and another workflow wanting the same table: 409, nothing created.
        await RefusedAsync(409, HttpMethod.Post, Create(wf), JsonSerializer.Serialize(new { source_keyspace = "commerce", tables = new[] { bed.TableA }, on_ddl = "STOP" }), wf, "taken");
        var other = Wf("other");
        await RefusedAsync(409, HttpMethod.Post, Create(other), JsonSerializer.Serialize(spec), bed.TableA, wf);
        Assert.Null(await bed.StateAsync(other));

        // Commands the state forbids: 409 (400 for bad flags), and the workflow is unchanged.
        var before = (await bed.StateAsync(wf))!;
        var cmd = $"/api/movetables/customer/{wf}/";
        await RefusedAsync(409, HttpMethod.Post, cmd + "reversetraffic", "{}", "Cannot reverse traffic", "Reads Not Switched. Writes Not Switched");
        await RefusedAsync(409, HttpMethod.Post, cmd + "complete", "{}", "Cannot complete", "not all traffic is switched");
        await RefusedAsync(400, HttpMethod.Post, cmd + "switchtraffic", "{\"switch\": {\"tablet_types\": [\"MASTER\"]}}", "MASTER");
        await RefusedAsync(400, HttpMethod.Post, cmd + "switchtraffic", "{\"switch\": {\"timeout_seconds\": -1}}", "--timeout");
        await RefusedAsync(400, HttpMethod.Post, cmd + "switchtraffic", "{\"switch\": ", "not valid JSON");
        await RefusedAsync(400, HttpMethod.Post, cmd + "teleport", "{}", "teleport");
        await RefusedAsync(404, HttpMethod.Post, $"/api/movetables/customer/{Wf("nosuch")}/switchtraffic", "{}", "create it first");
        var after = (await bed.StateAsync(wf))!;
        Assert.Equal(before.Audit.Count, after.Audit.Count);
        Assert.Equal(before.TrafficStateText, after.TrafficStateText);

        // Switched: cancel is refused, complete is allowed only once everything is switched; reverse then cancel works.
        var switched = await bed.CommandAsync(wf, "switchtraffic", new { @switch = new { timeout_seconds = 30 } });
        Assert.True(switched.State == "done", switched.Message);
        await RefusedAsync(409, HttpMethod.Post, cmd + "cancel", "{}", "Cannot cancel", "writes are switched");
        await RefusedAsync(409, HttpMethod.Post, cmd + "switchtraffic", "{}", "already switched");
        await RefusedAsync(409, HttpMethod.Post, cmd + "start", "{}", "frozen");
        var reversed = await bed.CommandAsync(wf, "reversetraffic", new { @switch = new { timeout_seconds = 30 } });
        Assert.True(reversed.State == "done", reversed.Message);
        await RefusedAsync(409, HttpMethod.Post, cmd + "complete", "{}", "Cannot complete");
        var cancelled = await bed.CommandAsync(wf, "cancel");
        Assert.True(cancelled.State == "done", cancelled.Message);
        await bed.WaitStateAsync(wf, s => s.Phase == Phases.Cancelled, "cancelled");
        await RefusedAsync(409, HttpMethod.Post, cmd + "switchtraffic", "{}", "Cancelled", "no more commands");

        // A cancelled workflow gives its name back: creating it again starts a new instance.
        var (s4, again, t4) = await bed.PostAsync(Create(wf), new { source_keyspace = "commerce", tables = new[] { bed.TableA }, auto_start = false });
        Assert.True(s4 == 202, t4);
        Assert.False(again.GetProperty("existing").GetBoolean());
        await bed.WaitStateAsync(wf, s => s.Phase == Phases.Stopped, "created, not started");
        var cancelAgain = await bed.CommandAsync(wf, "cancel");
        Assert.True(cancelAgain.State == "done", cancelAgain.Message);
    }

    [Fact]
    public async Task Switch_before_the_copy_finished_is_409()
    {
        // --auto-start=false: created, nothing copied yet.
        var wf = Wf("nocopy");
        var (status, _, text) = await bed.PostAsync(Create(wf), new { source_keyspace = "commerce", tables = new[] { bed.TableB }, auto_start = false });
        Assert.True(status == 202, text);
        var state = await bed.WaitStateAsync(wf, s => s.Phase is Phases.Stopped or Phases.Failed, "created, not started");
        Assert.True(state.Phase == Phases.Stopped, state.LastError);
        var cmd = $"/api/movetables/customer/{wf}/";
        await RefusedAsync(409, HttpMethod.Post, cmd + "switchtraffic", "{}", "Cannot switch traffic", "copy has not finished");
        await RefusedAsync(409, HttpMethod.Post, cmd + "switchtraffic", "{\"switch\": {\"tablet_types\": [\"REPLICA\"]}}", "copy has not finished");
        await RefusedAsync(409, HttpMethod.Post, cmd + "reversetraffic", "{}", "Cannot reverse traffic");
        var cancelled = await bed.CommandAsync(wf, "cancel");
        Assert.True(cancelled.State == "done", cancelled.Message);
    }
}
