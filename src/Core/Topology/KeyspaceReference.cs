using System.Text;

namespace Durable.Topology;

/// <summary>
/// A source keyspace as a workflow names it to whoever resolves its tablets later (the copy, the Streamer, VDiff):
/// <c>[mount:]keyspace[;cells=c1,c2]</c>. A plain name is a keyspace of this topology; <c>ext1:commerce</c> is keyspace
/// commerce of the mount ext1, re-read through the mount at every resolution (so a moved source tablet is found
/// again); <c>;cells=...</c> restricts the replicas and rdonlys that may be picked to those cells (<c>--cells</c>; the
/// shard's primary is always visible, as the workflow reads the schema there).
/// </summary>
/// <remarks>
/// Why one string: a stream row in the target sidecar has one <c>source_keyspace</c> column, and every component that
/// resolves source tablets passes it to <see cref="TopologyStore"/>. Carrying the mount and the cells inside it lets
/// them reach a mounted source without a schema change; ':' and ';' cannot occur in keyspace, mount or cell names
/// (<see cref="TabletTypes.ValidateName"/>), so a plain name never parses as a reference.
/// </remarks>
public sealed record KeyspaceReference(string? Mount, string Keyspace, IReadOnlyList<string> Cells)
{
    private const string CellsPrefix = "cells=";

    /// <summary>True when <paramref name="text"/> names a mount or cells (not a plain keyspace of this topology).</summary>
    public static bool IsReference(string? text) => text is not null && (text.Contains(':') || text.Contains(';'));

    public static KeyspaceReference Of(string keyspace, string? mount = null, IReadOnlyCollection<string>? cells = null)
    {
        var reference = new KeyspaceReference(string.IsNullOrEmpty(mount) ? null : mount, keyspace, cells is null ? [] : [.. cells.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)]);
        reference.Validate();
        return reference;
    }

    public static KeyspaceReference Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split(';');
        var head = parts[0];
        string? mount = null;
        var colon = head.IndexOf(':');
        if (colon >= 0)
        {
            mount = head[..colon];
            head = head[(colon + 1)..];
        }

        var cells = new List<string>();
        foreach (var part in parts.Skip(1))
        {
            if (!part.StartsWith(CellsPrefix, StringComparison.Ordinal))
            {
                throw new TopologyValidationException($"Keyspace reference '{text}': '{part}' is not understood; expected [mount:]keyspace[;cells=c1,c2].");
            }

            cells.AddRange(part[CellsPrefix.Length..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }

        var reference = new KeyspaceReference(mount, head, cells);
        reference.Validate();
        return reference;
    }

    private void Validate()
    {
        if (Mount is not null)
        {
            TabletTypes.ValidateName("mount", Mount);
        }

        TabletTypes.ValidateName("keyspace", Keyspace);
        foreach (var cell in Cells)
        {
            TabletTypes.ValidateName("cell", cell);
        }
    }

    public override string ToString()
    {
        var text = new StringBuilder();
        if (Mount is not null)
        {
            text.Append(Mount).Append(':');
        }

        text.Append(Keyspace);
        if (Cells.Count > 0)
        {
            text.Append(';').Append(CellsPrefix).Append(string.Join(',', Cells));
        }

        return text.ToString();
    }
}

/// <summary>
/// A mounted topology could not be read: the seeds' "node doesn't exist" with their fix. The message names the mount,
/// its server and root, and the underlying error (never a password: the etcd client does not put one in errors).
/// </summary>
public sealed class MountUnreachableException(MountRecord mount, Exception inner) : TopologyException(
    $"node doesn't exist: cannot read the topology of mount '{mount.Name}' (topo server {mount.TopoServer}, root {mount.TopoRoot}): {inner.Message} " +
    $"Ensure this host can reach the source topology server, and that the topology information given to Mount register is correct (durablectl Mount show --name {mount.Name}).",
    inner);
