using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Durable.Functions.Runner;

/// <summary>
/// Short names the app's function bodies use on the worker's <see cref="FunctionContext"/>; they read only what both the
/// Azure Functions worker and the local runner provide, so a body behaves the same on either.
/// </summary>
public static class FunctionContextExtensions
{
    extension(FunctionContext context)
    {
        /// <summary>The invocation's services (the app's composition root).</summary>
        public IServiceProvider Services => context.InstanceServices;

        /// <summary>The function's name as declared in <c>[Function]</c>.</summary>
        public string FunctionName => context.FunctionDefinition.Name;

        /// <summary>A logger in the category Functions uses for a function's own messages.</summary>
        public ILogger Logger => context.InstanceServices.GetRequiredService<ILoggerFactory>().CreateLogger($"Function.{context.FunctionDefinition.Name}");
    }
}
