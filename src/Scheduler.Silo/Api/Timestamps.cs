using Google.Protobuf.WellKnownTypes;

namespace Scheduler.Silo.Api;

/// <summary>The one check of caller-given timestamps: a <see cref="Timestamp"/> outside its own range (years 1 to 9999,
/// nanos 0 to 999,999,999) cannot become a <see cref="DateTimeOffset"/>, and converting it would throw, which a caller
/// would read as INTERNAL.</summary>
internal static class Timestamps
{
    /// <summary>The time <paramref name="t"/> names, or null when it is not set.</summary>
    public static DateTimeOffset? Read(Timestamp? t, string field)
    {
        if (t is null)
        {
            return null;
        }

        if (t.Seconds is < -62_135_596_800 or > 253_402_300_799 || t.Nanos is < 0 or > 999_999_999)
        {
            throw SchedulerErrors.InvalidArgument(field, "is not a valid timestamp");
        }

        return t.ToDateTimeOffset();
    }
}
