// Usage: Durable.Replication.TestHost copy <targetKeyspace> <targetShard> <streamId> <maxRows> [<commitRows>]
//        (the MoveTables copy of one stream, chunk after chunk, as the MoveTables_CopyChunk activity runs it; used by
//        the copy crash tests and the soak, which kill this process)
//        Durable.Replication.TestHost create <workflow> <sourceKeyspace> <targetKeyspace> <targetShard> <table>[,<table>...] [--defer-secondary-keys]
//        (prints the stream id; used by bench/benchmarks/replication-copy.sh)
//        Durable.Replication.TestHost create <workflow> <sourceKeyspace> <targetKeyspace> <targetShard> <table>[,...] <position>
//        (a stream over target tables that already hold the source's rows as of <position>, e.g. MariaDB/0-11-42,
//        started Running without a copy; used by bench/benchmarks/replication-catchup.sh)
// Settings come from the same variables the Streamer reads (Streamer__EtcdEndpoints, __TopologyRoot, __Sidecar,
// __User, __Password, __TabletsFile). Exit code 0 when the copy is done; a fault point kills the process (SIGKILL).
using System.Globalization;
using System.Text.Json;
using Durable.Composition;
using Durable.Replication;
using Durable.Topology;
using Durable.Workflows;
using Microsoft.Extensions.DependencyInjection;

// Options (create only): --defer-secondary-keys.
var deferSecondaryKeys = args.Contains("--defer-secondary-keys");
args = args.Where(a => a != "--defer-secondary-keys").ToArray();
var valid = args.Length > 0 && args[0] switch
{
    "copy" => args.Length is 5 or 6,
    "create" => args.Length is 6 or 7,
    _ => false,
};
if (!valid)
{
    Console.Error.WriteLine("usage: copy <targetKeyspace> <targetShard> <streamId> <maxRows> [<commitRows>] | create <workflow> <sourceKeyspace> <targetKeyspace> <targetShard> <tables> [<position>]");
    return 2;
}

// The copy budget (copy mode): the production default with DURABLE_COPY_CHUNK_ROWS's value applied, as the host reads it.
var budget = MoveTablesEnvironmentOptions.CopyBudgetFromSettings(args[0] == "copy" ? args[4] : null);
if (args[0] == "copy" && args.Length == 6)
{
    budget = budget with { CommitRows = int.Parse(args[5], CultureInfo.InvariantCulture) };
}

// The engine from the composition root the host and the Streamer use, on the Streamer's settings and fixed tablet list.
await using var services = DurableEngineServices.BuildToolEngine(new MoveTablesSettings { CopyBudget = budget });
var engine = services.GetRequiredService<ReplicationEngine>();
if (args[0] == "create")
{
    var target = await services.GetRequiredService<ITabletResolver>().PrimaryAsync(args[3], args[4], CancellationToken.None);
    var created = await engine.CreateStreamAsync(new StreamSpec
    {
        Workflow = args[1],
        SourceKeyspace = args[2],
        SourceShard = "0",
        TargetKeyspace = args[3],
        TargetShard = args[4],
        TargetDb = target.DbName,
        Filter = new StreamFilter(args[5].Split(',').Select(t => new TableRule(t)).ToList()),
        Position = args.Length == 7 ? Durable.Core.Positions.GtidPosition.Decode(args[6]) : null,
        Options = new StreamOptions { DeferSecondaryKeys = deferSecondaryKeys },
    }, new PreflightOptions { AllowNonEmptyTargetTables = args.Length == 7 });
    if (args.Length == 7)
    {
        await engine.StartStreamAsync(args[3], args[4], created);
    }

    Console.WriteLine(created);
    return 0;
}

// The copy as the MoveTables orchestration runs it: one MoveTables_CopyChunk activity after another, each the
// activity's own call (ClusterMoveTablesOperations.CopyChunkAsync: the engine's chunk with the workflow's owner and the
// host's copy budget, the production default with DURABLE_COPY_CHUNK_ROWS applied), until the stream is copied.
var id = long.Parse(args[3], CultureInfo.InvariantCulture);
var record = (await engine.ListStreamsAsync(args[1], args[2])).FirstOrDefault(s => s.Id == id)
    ?? throw new InvalidOperationException($"Stream {id} does not exist on {args[1]}/{args[2]}.");
var operations = services.GetRequiredService<IMoveTablesOperations>();
var (spec, stream) = CopyInput.ForStream(record);
var chunks = 0;
var failures = 0;
while (true)
{
    CopyChunkResult result;
    try
    {
        result = await operations.CopyChunkAsync(spec, stream, CancellationToken.None);
    }
    catch (Exception e) when (TransientFailures.IsTransient(e) && ++failures < 10)
    {
        // Stands in for the orchestration re-running a failed chunk (its retry policy, then an operator's start): a
        // transient failure (e.g. a stalled binlog on a loaded machine) re-runs the chunk from the sidecar's committed state.
        Console.Error.WriteLine($"chunk failed (attempt {failures}, retrying): {e.Message}");
        await Task.Delay(TimeSpan.FromSeconds(failures));
        continue;
    }

    if (result.WaitingFor is { } waiting)
    {
        // No source tablet: the orchestration waits and tries again.
        if (++failures >= 10)
        {
            Console.Error.WriteLine($"gave up waiting: {waiting}");
            return 1;
        }

        Console.Error.WriteLine($"waiting (attempt {failures}): {waiting}");
        await Task.Delay(TimeSpan.FromSeconds(failures));
        continue;
    }

    failures = 0;
    chunks++;
    if (result.Done)
    {
        var state = (await engine.ListStreamsAsync(args[1], args[2])).First(s => s.Id == id).State;
        Console.WriteLine($"copied in {chunks} chunks; state {state}");
        return 0;
    }
}
