namespace Scheduler.Protos.Settings;

/// <summary>What a settings refusal says on its one line.</summary>
public static class SettingMessages
{
    /// <summary>The message of an exception that names a setting, without the " (Parameter '…')" the runtime appends to
    /// an <see cref="ArgumentException"/>'s: it names a C# parameter ("options"), not the setting, and only confuses.</summary>
    public static string Of(Exception exception)
    {
        if (exception is not ArgumentException { ParamName: { } parameter } argument)
        {
            return exception.Message;
        }

        var suffix = $" (Parameter '{parameter}')";
        return argument.Message.EndsWith(suffix, StringComparison.Ordinal) ? argument.Message[..^suffix.Length] : argument.Message;
    }
}
