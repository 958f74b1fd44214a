using System.Globalization;

namespace Scheduler.Bench.Report;

internal static class Format
{
    public static CultureInfo Culture => CultureInfo.InvariantCulture;

    public static string Us(double micros) => micros.ToString("#,0", Culture) + " µs";

    public static string Ms(double millis) => millis.ToString("0.000", Culture) + " ms";

    public static string Bytes(double bytes) => bytes.ToString("#,0", Culture) + " B";

    public static string Rate(double perSecond) => perSecond.ToString("#,0", Culture) + "/s";

    public static string Number(double value, string format = "0.00") => value.ToString(format, Culture);
}
