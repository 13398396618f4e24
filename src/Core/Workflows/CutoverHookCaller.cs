using System.Diagnostics;
using System.Text.Json;
using Durable.Topology;

namespace Durable.Workflows;

/// <summary>
/// The cutover hooks of a write switch, called once the routing rules are flipped and before the commit: each gets the
/// new routing as JSON, a webhook by HTTP POST, a command on its standard input; any failure rolls the switch back.
/// </summary>
public sealed class CutoverHookCaller(TopologyStore store, HttpClient http)
{
    /// <summary>Calls each cutover hook with the new routing; the first failure is returned (null: all succeeded).</summary>
    public async Task<string?> CallHooksAsync(MoveTablesCreate spec, IReadOnlyList<string> tables, TrafficState traffic, bool reverse, CancellationToken ct)
    {
        if (spec.CutoverHooks.Count == 0)
        {
            return null;
        }

        var rules = (await store.GetRoutingRulesAsync(ct).ConfigureAwait(false)).Value;
        var payload = JsonSerializer.Serialize(new
        {
            workflow = spec.Workflow,
            target_keyspace = spec.TargetKeyspace,
            source_keyspace = spec.SourceKeyspace,
            tables,
            direction = reverse ? "ReverseTraffic" : "SwitchTraffic",
            writes_to = reverse ? spec.SourceKeyspace : spec.TargetKeyspace,
            traffic_state = traffic.ToString(),
            routing_rules = JsonDocument.Parse(rules.ToJson()).RootElement,
        });
        foreach (var hook in spec.CutoverHooks)
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts.CancelAfter(TimeSpan.FromSeconds(hook.TimeoutSeconds));
            try
            {
                var error = hook.Url is not null
                    ? await PostAsync(hook.Url, payload, cts.Token).ConfigureAwait(false)
                    : await RunCommandAsync(hook, payload, cts.Token, ct).ConfigureAwait(false);
                if (error is not null)
                {
                    return error;
                }
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException or System.ComponentModel.Win32Exception or InvalidOperationException && !ct.IsCancellationRequested)
            {
                return $"hook {hook.Url ?? hook.Command![0]} failed: {e.Message}";
            }
        }

        return null;
    }

    /// <summary>A webhook: the payload POSTed as JSON; anything but a success status is a failure.</summary>
    private async Task<string?> PostAsync(string url, string payload, CancellationToken timeout)
    {
        using var content = new StringContent(payload, System.Text.Encoding.UTF8, "application/json");
        using var response = await http.PostAsync(url, content, timeout).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            return $"webhook {url} answered {(int)response.StatusCode} {response.ReasonPhrase}";
        }

        return null;
    }

    /// <summary>A command: the payload on its standard input; killed at the hook's timeout; a non-zero exit is a failure.</summary>
    private static async Task<string?> RunCommandAsync(CutoverHook hook, string payload, CancellationToken timeout, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(hook.Command![0]) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in hook.Command.Skip(1))
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {hook.Command[0]}");
        await p.StandardInput.WriteAsync(payload).ConfigureAwait(false);
        p.StandardInput.Close();
        var stderr = p.StandardError.ReadToEndAsync(timeout);
        _ = p.StandardOutput.ReadToEndAsync(timeout);
        try
        {
            await p.WaitForExitAsync(timeout).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            p.Kill(entireProcessTree: true);
            return $"command {hook.Command[0]} did not finish within {hook.TimeoutSeconds}s";
        }

        if (p.ExitCode != 0)
        {
            var err = (await stderr.ConfigureAwait(false)).Trim();
            return $"command {hook.Command[0]} exited with {p.ExitCode}{(err.Length > 0 ? ": " + (err.Length > 300 ? err[..300] : err) : "")}";
        }

        return null;
    }
}
