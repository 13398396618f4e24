using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Durable.VDiff;

namespace Durable.Activities.VDiff;

/// <summary>Reads a finished VDiff's report and sums it into the outcome a workflow gate needs; reads only.</summary>
public sealed class VDiffOutcomeActivity(IVDiffOperations operations, TimeProvider? time = null) : DurableActivity<VDiffRunInput, VDiffOutcome>
{
    public const string Name = "VDiff_Outcome";

    [Function(Name)]
    public Task<VDiffOutcome> Run([ActivityTrigger] VDiffRunInput input, FunctionContext context) => RunAsync(input, context);

    protected override async Task<VDiffOutcome> ExecuteAsync(TaskActivityContext context, VDiffRunInput input, CancellationToken cancellationToken)
    {
        var report = await operations.ShowAsync(input.Workflow, input.Keyspace, input.Uuid!, false, cancellationToken).ConfigureAwait(false)
            ?? throw new VDiffException($"VDiff {input.Uuid} vanished (deleted while running?).");
        return new VDiffOutcome(report.UUID, report.State, report.HasMismatch, report.RowsCompared, report.Errors)
        {
            Workflow = input.Workflow,
            MismatchedRows = report.TableSummary.Values.Sum(t => t.MismatchedRows),
            ExtraRowsSource = report.TableSummary.Values.Sum(t => t.ExtraRowsSource),
            ExtraRowsTarget = report.TableSummary.Values.Sum(t => t.ExtraRowsTarget),
            Tables = [.. report.TableSummary.Values.Select(t => new VDiffTableCounts(t.TableName, t.MismatchedRows, t.ExtraRowsSource, t.ExtraRowsTarget))],
            At = (time ?? TimeProvider.System).GetUtcNow().UtcDateTime,
        };
    }
}
