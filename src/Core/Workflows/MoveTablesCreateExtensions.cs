using Durable.Topology;

namespace Durable.Workflows;

/// <summary>
/// What the engine derives from a <see cref="MoveTablesCreate"/> (the wire record, in Durable.Contracts) with the
/// topology's types: the source keyspace as <see cref="KeyspaceReference"/> text.
/// </summary>
public static class MoveTablesCreateExtensions
{
    extension(MoveTablesCreate spec)
    {
        /// <summary>The source keyspace with its mount, without cells: how the registry and messages name the source.</summary>
        public string SourceKey => KeyspaceReference.Of(spec.SourceKeyspace, spec.MountName).ToString();

        /// <summary>
        /// The source keyspace as the copy, the Streamer and VDiff resolve it (stored in the stream rows): the mount and
        /// the <c>--cells</c> restriction travel with it, see <see cref="KeyspaceReference"/>.
        /// </summary>
        public string SourceRef => KeyspaceReference.Of(spec.SourceKeyspace, spec.MountName, spec.AllCells ? null : spec.Cells).ToString();
    }
}
