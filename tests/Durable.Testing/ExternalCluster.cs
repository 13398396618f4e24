namespace Durable.Testing;

/// <summary>The external cluster Migrate tests mount: the same loader as the main cluster, another cluster.json.</summary>
public static class ExternalCluster
{
    /// <summary>The external cluster of this checkout; throws with the command to run when it is not up.</summary>
    public static LocalCluster Current => LocalCluster.External;
}
