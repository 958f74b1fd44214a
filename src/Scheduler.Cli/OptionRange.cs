using System.CommandLine;

namespace Scheduler.Cli;

/// <summary>The range check of a numeric option, one shape for all: <c>--limit: must be between 1 and 500</c>.</summary>
internal static class OptionRange
{
    /// <summary>Refuses a value below <paramref name="min"/> or above <paramref name="max"/> with
    /// "<c>{option}: must be {what}</c>".</summary>
    public static Option<T> Within<T>(this Option<T> option, T min, T max, string what) where T : struct, IComparable<T>
    {
        option.Validators.Add(result =>
        {
            T value;
            try
            {
                value = result.GetValueOrDefault<T>();
            }
            // A value that does not parse ("--limit abc") already carries the parser's error, which names the option
            // and the type; reading it throws (schedctl aborted with a stack trace), so leave it to that error.
            catch (InvalidOperationException)
            {
                return;
            }

            if (value.CompareTo(min) < 0 || value.CompareTo(max) > 0)
            {
                result.AddError($"{option.Name}: must be {what}");
            }
        });
        return option;
    }
}
