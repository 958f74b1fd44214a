using System.Globalization;

namespace Scheduler.Bench.Report;

internal static class Format
{
    public static CultureInfo Culture => CultureInfo.InvariantCulture;

    public static string Us(double micros) => micros.ToString("#,0", Culture) + " µs";

    public static string Ms(double millis) => millis.ToString("0.000", Culture) + " ms";

    /// <summary>Bytes allocated; a negative count is shown as not measured: .NET 10's GC.GetTotalAllocatedBytes(precise: true)
    /// can read lower at the window's end than at its start under concurrent allocation (seen once, 2026-12-08: −2.5 MB a
    /// job over a window that allocated hundreds of KB a job), and a wrong figure is worse than none.</summary>
    public static string Bytes(double bytes) => bytes < 0 ? "n/a (the runtime's count went backwards)" : bytes.ToString("#,0", Culture) + " B";

    public static string Rate(double perSecond) => perSecond.ToString("#,0", Culture) + "/s";

    public static string Number(double value, string format = "0.00") => value.ToString(format, Culture);
}
