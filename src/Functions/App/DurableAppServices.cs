using Durable.Functions.Runner;
using Durable.Workflows;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Durable.Functions.App;

public static class DurableAppServices
{
    /// <summary>Adds <see cref="DurableApp"/>'s functions and the defaults of the settings their attributes name.</summary>
    public static IServiceCollection AddDurableApp(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddFunctionsOf<DurableApp>();
        services.AddFunctionsOf<ApprovalsQueue>();
        // The approvals queue checks signatures before anything reaches a workflow: the keys come from the host's settings.
        services.TryAddSingleton<IApproverKeys>(sp => ConfiguredApproverKeys.Parse(sp.GetRequiredService<IConfiguration>()[ConfiguredApproverKeys.Setting]));
        services.AddSingleton(new AppSettingDefault(DurableApp.ApprovalsQueueSetting, DurableApp.DefaultApprovalsQueue));
        services.AddSingleton(new AppSettingDefault(DurableApp.PurgeScheduleSetting, DurableApp.DefaultPurgeSchedule));
        services.TryAddSingleton(TimeProvider.System);
        return services;
    }
}
