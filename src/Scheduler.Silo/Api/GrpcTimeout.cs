using System.Globalization;
using Microsoft.Extensions.Primitives;

namespace Scheduler.Silo.Api;

/// <summary>
/// A call's <c>grpc-timeout</c> header, read as gRPC's HTTP/2 protocol defines it: a positive value of at most 8 ASCII
/// digits, then its unit — <c>H</c>ours, <c>M</c>inutes, <c>S</c>econds, <c>m</c>illiseconds, <c>u</c> microseconds,
/// <c>n</c>anoseconds. For <see cref="RequestMessageBudget"/>, which waits for a call's message before grpc-dotnet
/// starts the call's deadline; a header that does not read so is grpc-dotnet's to judge, as it always was (it ignores it).
/// </summary>
internal static class GrpcTimeout
{
    public const string Header = "grpc-timeout";

    private const int MaxDigits = 8;
    private const long MaxValue = 99_999_999;

    /// <summary>The timeout <paramref name="values"/> (the header's) give, if they are one value that reads as one.</summary>
    public static bool TryParse(StringValues values, out TimeSpan timeout)
    {
        timeout = default;
        if (values.Count != 1 || values[0] is not { Length: >= 2 and <= MaxDigits + 1 } text
            || !long.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            return false;
        }

        timeout = text[^1] switch
        {
            'H' => TimeSpan.FromHours(value),
            'M' => TimeSpan.FromMinutes(value),
            'S' => TimeSpan.FromSeconds(value),
            'm' => TimeSpan.FromMilliseconds(value),
            'u' => TimeSpan.FromMicroseconds(value),
            'n' => TimeSpan.FromTicks(value / TimeSpan.NanosecondsPerTick),
            _ => TimeSpan.Zero,
        };

        // 0, or under a tick: no deadline, as grpc-dotnet reads it.
        return timeout > TimeSpan.Zero;
    }

    /// <summary><paramref name="timeout"/> (at most a few years) as the header carries it, rounded up to the finest
    /// unit that holds it in 8 digits — microseconds up to 100 s, then milliseconds, then seconds; at least 1 µs, so a
    /// timeout that has run out still reads as one, which grpc-dotnet ends at once (it reads 0, or under a tick, as
    /// none).</summary>
    public static string Format(TimeSpan timeout)
    {
        var ticks = Math.Max(timeout.Ticks, 1);
        var micros = Up(ticks, TimeSpan.TicksPerMicrosecond);
        if (micros <= MaxValue)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{micros}u");
        }

        var millis = Up(ticks, TimeSpan.TicksPerMillisecond);
        return millis <= MaxValue
            ? string.Create(CultureInfo.InvariantCulture, $"{millis}m")
            : string.Create(CultureInfo.InvariantCulture, $"{Up(ticks, TimeSpan.TicksPerSecond)}S");
    }

    private static long Up(long ticks, long perUnit) => (ticks + perUnit - 1) / perUnit;
}
