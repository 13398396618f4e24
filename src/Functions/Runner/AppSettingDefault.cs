namespace Durable.Functions.Runner;

/// <summary>
/// The value the runner uses for an app setting that a function's attribute names (<c>%Name%</c>) when the setting is
/// absent, so a development host starts without it. On Azure Functions the setting must exist (the host resolves
/// <c>%Name%</c> itself); the README lists these settings.
/// </summary>
public sealed record AppSettingDefault(string Name, string Value);
