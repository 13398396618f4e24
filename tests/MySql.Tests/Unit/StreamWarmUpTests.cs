using System.Runtime.CompilerServices;
using Durable.MySql.Binlog;

namespace Durable.MySql.Tests.Unit;

/// <summary>
/// The warm-up names the methods a starting stream runs by name; a rename would silently drop one from the list
/// (and its compilation back onto the stream's start), so every name must still resolve.
/// </summary>
public sealed class StreamWarmUpTests
{
    [Fact]
    public void Every_listed_method_exists()
    {
        foreach (var (type, names) in StreamWarmUp.StreamStart.Concat(StreamWarmUp.RowDecoding))
        {
            foreach (var name in names)
            {
                Assert.True(StreamWarmUp.Resolve(type, [name]).Any(), $"{type.Name}.{name} is listed for the stream warm-up but no longer exists");
            }
        }
    }

    [Fact]
    public void Async_methods_bring_their_state_machine()
    {
        var methods = StreamWarmUp.Resolve(typeof(BinlogStream), ["StartOnAsync"]).ToList();
        Assert.Contains(methods, m => m.Name == "StartOnAsync");
        Assert.Contains(methods, m => m.Name == "MoveNext" && m.DeclaringType!.IsDefined(typeof(CompilerGeneratedAttribute), false));
    }

    [Fact]
    public void The_row_decoding_path_is_compiled_fully_optimised()
    {
        foreach (var method in StreamWarmUp.Resolve(typeof(BinlogEventParser), StreamWarmUp.RowDecoding.Single().Methods))
        {
            Assert.True((method.MethodImplementationFlags & System.Reflection.MethodImplAttributes.AggressiveOptimization) != 0,
                $"{method.Name} runs per row or value but is not marked AggressiveOptimization");
        }
    }

    [Fact]
    public async Task Warm_up_runs_to_completion()
    {
        await BinlogEventParser.PrepareDecodePathAsync().WaitAsync(TimeSpan.FromSeconds(60));
    }
}
