using Grpc.Core;
using Microsoft.Extensions.Options;
using Scheduler.Grains;
using Scheduler.Grains.Jobs;

namespace Scheduler.Silo.Api;

/// <summary>The answer for a job id no record answers to: NOT_FOUND naming the job, and how long finished jobs are
/// kept, since a job that ended longer ago than that is gone (and, in the silo's memory, one of more than the newest
/// <see cref="PlacementOptions.MaxSettledJobsInMemory"/>), which an id alone cannot tell from a job that never was.</summary>
internal sealed class MissingJobs(IOptions<PlacementOptions> options, IJobJournal journal)
{
    public RpcException NotFound(string jobId)
    {
        var o = options.Value;
        var kept = $"a finished job's record is kept for {o.JobRetention} after its end ({PlacementOptions.Section}:{nameof(PlacementOptions.JobRetention)})";
        if (!journal.OutlivesSilo)
        {
            kept += $", and this silo's memory keeps the newest {o.MaxSettledJobsInMemory} ({PlacementOptions.Section}:{nameof(PlacementOptions.MaxSettledJobsInMemory)})";
        }

        return SchedulerErrors.NotFound("job", jobId, kept);
    }
}
