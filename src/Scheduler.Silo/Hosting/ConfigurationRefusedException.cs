using Scheduler.Protos.Settings;

namespace Scheduler.Silo.Hosting;

/// <summary>
/// A silo setting that cannot work, found while the silo is built; the message names the key and says what it must
/// be. <see cref="SchedulerHost.RunAsync"/> writes it on one line and exits with
/// <see cref="SchedulerHost.ConfigurationRefusedExitCode"/>, as it does for the options validators' refusals.
/// </summary>
public sealed class ConfigurationRefusedException(string message, Exception? innerException = null)
    : Exception(message, innerException)
{
    /// <summary>A refusal from an <see cref="ArgumentException"/> whose message names the setting (the TLS files' checks,
    /// shared with the worker), without the " (Parameter '…')" the runtime appends to it.</summary>
    public static ConfigurationRefusedException From(ArgumentException exception) =>
        new(SettingMessages.Of(exception), exception);
}
