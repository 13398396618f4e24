using Durable.Functions.Runner;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Entities;
using Microsoft.Extensions.Configuration;

namespace Durable.Functions.Tests;

/// <summary>
/// How the runner reads [Function] methods: what it binds, and the start-up errors for what it cannot bind or what
/// Azure Functions would refuse. No server: the catalog and the registry only read attributes and settings.
/// </summary>
public sealed class FunctionCatalogTests
{
    public sealed class Good
    {
        [Function("Echo")]
        public static IResult Echo([HttpTrigger(AuthorizationLevel.Function, "get", Route = "echo/{word}/{times:int}")] HttpRequest request, string word, int times) =>
            Results.Text(string.Concat(Enumerable.Repeat(word, times)));

        [Function("Orders")]
        public static Task Orders([QueueTrigger("orders")] Order order, FunctionContext context) => Task.CompletedTask;

        [Function("Counts")]
        public static Task Counts([QueueTrigger("counts")] int count) => Task.CompletedTask;

        [Function("Nightly")]
        public static Task Nightly([TimerTrigger("0 0 3 * * *")] TimerInfo timer) => Task.CompletedTask;

        [Function("Flow")]
        public static Task<int> Flow([OrchestrationTrigger] TaskOrchestrationContext context, Order order) => Task.FromResult(order.Quantity);

        [Function("Step")]
        public static Task<string> Step([ActivityTrigger] Order order, CancellationToken cancellationToken) => Task.FromResult(order.Sku);
    }

    public sealed record Order(string Sku, int Quantity);

    [Fact]
    public void Each_trigger_becomes_the_binding_the_runner_serves()
    {
        var functions = FunctionCatalog.Read(typeof(Good)).ToDictionary(f => f.Name);
        var echo = Assert.IsType<HttpTriggerFunction>(functions["Echo"]);
        Assert.Equal("echo/{word}/{times:int}", echo.Route);
        Assert.Equal(["GET"], echo.Methods);
        Assert.Equal(Http.AuthorizationLevel.Function, echo.AuthLevel);
        Assert.Equal("orders", Assert.IsType<QueueTriggerFunction>(functions["Orders"]).QueueName);
        Assert.Equal("counts", Assert.IsType<QueueTriggerFunction>(functions["Counts"]).QueueName);
        Assert.Equal("0 0 3 * * *", Assert.IsType<TimerTriggerFunction>(functions["Nightly"]).ScheduleExpression);
        var flow = Assert.IsType<OrchestrationTriggerFunction>(functions["Flow"]);
        Assert.Equal(typeof(Order), flow.InputType);
        Assert.Equal(typeof(int), flow.OutputType);
        var step = Assert.IsType<ActivityTriggerFunction>(functions["Step"]);
        Assert.Equal(typeof(Order), step.InputType);
        Assert.Equal(typeof(string), step.OutputType);
    }

    [Fact]
    public async Task A_queue_message_binds_as_its_JSON_type_and_an_activity_gets_its_input()
    {
        var functions = FunctionCatalog.Read(typeof(Good)).ToDictionary(f => f.Name);
        var services = new EmptyServices();
        var context = new RunnerFunctionContext("Step", "1", services, CancellationToken.None);
        Assert.Equal("sku-1", await ((ActivityTriggerFunction)functions["Step"]).Run(context, new Order("sku-1", 2)));
        // A message that is not JSON of the parameter's type fails the invocation (and is retried, then poisoned).
        var orders = (QueueTriggerFunction)functions["Orders"];
        await orders.Handler(context, new QueueTriggerMessage("m1", """{"sku":"a","quantity":1}""", 1, DateTimeOffset.UtcNow, "orders"));
        await Assert.ThrowsAnyAsync<System.Text.Json.JsonException>(() => orders.Handler(context, new QueueTriggerMessage("m2", "not json", 1, DateTimeOffset.UtcNow, "orders")));
    }

    /// <summary>An input binding of an extension the runner does not serve (Blob, Table, Cosmos DB... look alike).</summary>
    public sealed class SecretInputAttribute : Microsoft.Azure.Functions.Worker.Extensions.Abstractions.InputBindingAttribute;

    public sealed class UnsupportedInput
    {
        [Function("ReadsSecret")]
        public static Task Run([QueueTrigger("q")] string message, [SecretInput] string secret) => Task.CompletedTask;
    }

    public sealed class UnsupportedOutput
    {
        [Function("Forwards")]
        [QueueOutput("out")]
        public static string Run([QueueTrigger("q")] string message) => message;
    }

    public sealed class EntityFunction
    {
        [Function("Counter")]
        public static Task Run([EntityTrigger] TaskEntityDispatcher dispatcher) => Task.CompletedTask;
    }

    public sealed class TwoTriggers
    {
        [Function("Both")]
        public static Task Run([QueueTrigger("q")] string message, [TimerTrigger("0 0 3 * * *")] TimerInfo timer) => Task.CompletedTask;
    }

    public sealed class BadName
    {
        [Function("Move.Tables")]
        public static Task Run([QueueTrigger("q")] string message) => Task.CompletedTask;
    }

    public sealed class WrongHttpReturn
    {
        [Function("Text")]
        public static string Run([HttpTrigger(AuthorizationLevel.Anonymous, "get")] HttpRequest request) => "x";
    }

    public sealed class UnboundParameter
    {
        [Function("Lost")]
        public static IResult Run([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "lost")] HttpRequest request, string missing) => Results.Ok();
    }

    public sealed class RunsOnStartup
    {
        [Function("Eager")]
        public static Task Run([TimerTrigger("0 0 3 * * *", RunOnStartup = true)] TimerInfo timer) => Task.CompletedTask;
    }

    [Theory]
    [InlineData(typeof(UnsupportedInput), "ReadsSecret", "[SecretInput]")]
    [InlineData(typeof(UnsupportedOutput), "Forwards", "[QueueOutput]")]
    [InlineData(typeof(EntityFunction), "Counter", "[EntityTrigger]")]
    [InlineData(typeof(TwoTriggers), "Both", "2 trigger parameters")]
    [InlineData(typeof(BadName), "Move.Tables", "valid: a letter")]
    [InlineData(typeof(WrongHttpReturn), "Text", "return IResult")]
    [InlineData(typeof(UnboundParameter), "Lost", "'missing'")]
    [InlineData(typeof(RunsOnStartup), "Eager", "RunOnStartup")]
    public void What_the_runner_cannot_bind_stops_it_at_start_naming_the_function_and_the_binding(Type type, string function, string why)
    {
        var e = Assert.Throws<FunctionBindingException>(() => FunctionCatalog.Read(type));
        Assert.Contains($"'{function}'", e.Message, StringComparison.Ordinal);
        Assert.Contains(why, e.Message, StringComparison.Ordinal);
    }

    public sealed class SettingNames
    {
        [Function("Approve")]
        public static Task Approve([QueueTrigger("%QUEUE%", Connection = "OtherStorage")] string message) => Task.CompletedTask;

        [Function("Tick")]
        public static Task Tick([TimerTrigger("%SCHEDULE%")] TimerInfo timer) => Task.CompletedTask;
    }

    [Theory]
    [InlineData("QUEUE=approvals;SCHEDULE=0 0 3 * * *;AzureWebJobsStorage=UseDevelopmentStorage=true", "queue connection 'OtherStorage' is not set", "UseDevelopmentStorage=true")]
    [InlineData("QUEUE=approvals;SCHEDULE=0 0 3 * * *", "AzureWebJobsStorage is not set", "UseDevelopmentStorage=true")]
    [InlineData("QUEUE=approvals;SCHEDULE=every night;AzureWebJobsStorage=x;OtherStorage=x", "Tick", "0 */5 * * * *")]
    [InlineData("SCHEDULE=0 0 3 * * *;AzureWebJobsStorage=x;OtherStorage=x", "'QUEUE'", "local.settings.json")]
    [InlineData("QUEUE=approvals;SCHEDULE=0 0 3 * * *;AzureWebJobsStorage=x;OtherStorage=y", "another storage account", "same account")]
    public void Bad_trigger_settings_fail_at_start_naming_the_setting_and_a_valid_example(string settings, string names, string example)
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(settings.Split(';').Select(kv => kv.Split('=', 2))
            .Select(kv => new KeyValuePair<string, string?>(kv[0], kv[1]))).Build();
        var catalog = new FunctionCatalog([new FunctionClass(typeof(SettingNames))], []);
        var e = Assert.ThrowsAny<Exception>(() => new TriggerRegistry(catalog, config, []));
        Assert.Contains(names, e.Message, StringComparison.Ordinal);
        Assert.Contains(example, e.Message, StringComparison.Ordinal);
    }

    private sealed class EmptyServices : IServiceProvider
    {
        public object? GetService(Type serviceType) => null;
    }
}
