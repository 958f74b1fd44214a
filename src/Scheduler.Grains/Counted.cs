using System.Globalization;

namespace Scheduler.Grains;

/// <summary>A count with its noun in the right number, for messages read by people ("1 replica", "2 replicas").</summary>
internal static class Counted
{
    /// <summary>"<paramref name="n"/> <paramref name="one"/>" for one, else with <paramref name="many"/> (the noun
    /// plus "s" when not given).</summary>
    public static string Of(int n, string one, string? many = null) =>
        n.ToString(CultureInfo.InvariantCulture) + " " + (n == 1 ? one : many ?? one + "s");
}
