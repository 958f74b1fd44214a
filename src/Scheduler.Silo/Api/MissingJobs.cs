using System.Globalization;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Scheduler.Grains;
using Scheduler.Grains.Jobs;

namespace Scheduler.Silo.Api;

/// <summary>The answer for a job id no record answers to: NOT_FOUND naming the job, and how long finished jobs are
/// kept, since a job that ended longer ago than that is gone (and, in the silo's memory, one of more than the newest
/// <see cref="PlacementOptions.MaxSettledJobsInMemory"/>), which an id alone cannot tell from a job that never was.
/// It says the rule, not the settings that make it (<see cref="PlacementOptions.JobRetention"/>): a tenant can neither
/// see nor change them, and the operator finds them in docs/operations.md, "How long jobs are kept".</summary>
internal sealed class MissingJobs(IOptions<PlacementOptions> options, IJobJournal journal)
{
    public RpcException NotFound(string jobId)
    {
        var o = options.Value;
        var kept = $"a finished job's record is kept for {Span(o.JobRetention)} after its end";
        if (!journal.OutlivesSilo)
        {
            kept += $", and only the newest {o.MaxSettledJobsInMemory.ToString("N0", CultureInfo.InvariantCulture)} finished jobs (of all tenants) are kept";
        }

        return SchedulerErrors.NotFound("job", jobId, kept);
    }

    /// <summary>A retention as a person writes it ("7 days", "1 hour", "90 seconds"); one that is no whole number of
    /// seconds as d.hh:mm:ss.fff.</summary>
    private static string Span(TimeSpan span) =>
        Whole(span, TimeSpan.FromDays(1), "day") ?? Whole(span, TimeSpan.FromHours(1), "hour") ?? Whole(span, TimeSpan.FromMinutes(1), "minute")
        ?? Whole(span, TimeSpan.FromSeconds(1), "second") ?? span.ToString("c", CultureInfo.InvariantCulture);

    private static string? Whole(TimeSpan span, TimeSpan unit, string name) => span.Ticks % unit.Ticks == 0
        ? (span.Ticks / unit.Ticks) switch { 1 => "1 " + name, var n => $"{n.ToString(CultureInfo.InvariantCulture)} {name}s" }
        : null;
}
