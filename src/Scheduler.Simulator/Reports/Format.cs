using System.Globalization;

namespace Scheduler.Simulator.Reports;

/// <summary>Number formats shared by the tables.</summary>
internal static class Format
{
    public static string Ms(double value) => double.IsNaN(value) ? "—" : value.ToString(value < 10 ? "0.0" : "#,0", CultureInfo.InvariantCulture);

    // A cost per token of no tokens (nothing served) is no figure: a dash, not "NaN".
    public static string Usd(double value) => double.IsNaN(value) ? "—" : value.ToString(value < 1 ? "0.000" : "#,0.00", CultureInfo.InvariantCulture);

    // A share of nothing (no request served, an oracle that caches nothing) is no figure: a dash, not "NaN%". A share
    // short of all, or above none, never rounds to either: 21 misses in 1,500,000 requests read "attainment 100.00%".
    public static string Pct(double value)
    {
        if (double.IsNaN(value))
        {
            return "—";
        }

        var text = (value * 100).ToString("0.00", CultureInfo.InvariantCulture);
        return text switch
        {
            "100.00" when value < 1 => ">99.99%",
            "0.00" when value > 0 => "<0.01%",
            _ => text + "%",
        };
    }

    // A ratio of nothing (joules per output token of a run that served none) is no figure: a dash, not "NaN".
    public static string Num(double value, string format = "#,0.##") => double.IsNaN(value) ? "—" : value.ToString(format, CultureInfo.InvariantCulture);

    /// <summary>"H100 31% · A100 12%" in a fixed product order.</summary>
    public static string ByProduct(IReadOnlyDictionary<string, double> values) =>
        string.Join(" · ", values.Select(kv => $"{kv.Key} {(kv.Value * 100).ToString("0", CultureInfo.InvariantCulture)}%"));
}
