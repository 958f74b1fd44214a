using Scheduler.Abstractions.Jobs;
using Scheduler.Grains.Placement;
using Scheduler.Policies;
using Scheduler.Policies.Dispatch;

namespace Scheduler.Tests.Grains.Placement;

/// <summary>Why a queued job waited, derived from the model's round verdicts.</summary>
public sealed class WaitLogTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 2, 4, 0, 0, TimeSpan.Zero);
    private static readonly RoundStop NoSlot = new(RoundStopReason.NothingFits, long.MinValue);
    private static readonly RoundStop Held = new(RoundStopReason.PolicyHeld, 50_000);

    private readonly WaitLog _log = new();

    private static JobDemand Demand(string jobId, string tenant = "t", JobPriority priority = JobPriority.Standard) =>
        new(jobId, tenant, 100, 50, priority, 800, T0);

    private JobTraceEvent[] Waits(JobDemand job, WaitMark from)
    {
        var trace = new JobTrace();
        _log.AppendWaits(job, from, trace);
        return trace.ToArray();
    }

    [Fact]
    public void AppendWaits_ManyRoundsForOneReason_IsOneLineWithTheirCountAndSpan()
    {
        var mark = _log.Mark(T0);
        for (var i = 0; i < 1000; i++)
        {
            _log.Record(NoSlot, null, T0.AddMilliseconds(i));
        }

        var line = Assert.Single(Waits(Demand("j"), mark));

        Assert.Equal(WaitReason.NoSlot, line.Reason);
        Assert.Equal(1000, line.Count);
        Assert.Equal(T0, line.At);
        Assert.Equal(T0.AddMilliseconds(999), line.LastAt);
    }

    [Fact]
    public void AppendWaits_JobQueuedDuringARun_CountsOnlyTheRoundsAfterIt()
    {
        for (var i = 0; i < 5; i++)
        {
            _log.Record(NoSlot, null, T0);
        }

        var mark = _log.Mark(T0);
        for (var i = 0; i < 3; i++)
        {
            _log.Record(NoSlot, null, T0.AddSeconds(1));
        }

        Assert.Equal(3, Assert.Single(Waits(Demand("j"), mark)).Count);
    }

    [Fact]
    public void AppendWaits_JobQueuedDuringALongRun_ItsLineStartsWhenItWasQueued_NotWhenTheRunBegan()
    {
        // The run of "no slot" rounds began 200 s before the job was queued (a handed-back job, in an outside probe's
        // report: explain printed "+-200.083s").
        _log.Record(NoSlot, null, T0);
        var queuedAt = T0.AddSeconds(200);
        var mark = _log.Mark(queuedAt);
        _log.Record(NoSlot, null, queuedAt.AddSeconds(1));

        var line = Assert.Single(Waits(Demand("j"), mark));

        Assert.Equal((queuedAt, queuedAt.AddSeconds(1), 1), (line.At, line.LastAt, line.Count));
    }

    [Fact]
    public void AppendWaits_PolicyHeldAJob_EachWaitingJobReadsItsOwnReason()
    {
        var held = Demand("held", "a", JobPriority.Critical);
        var mark = _log.Mark(T0);
        _log.Record(Held, held, T0);

        Assert.Equal(WaitReason.HeldNoReplicaMeetsObjective, Assert.Single(Waits(held, mark)).Reason);
        Assert.Equal(WaitReason.LowerPriorityClass, Assert.Single(Waits(Demand("std", "a"), mark)).Reason);
        Assert.Equal(WaitReason.TenantOverShare, Assert.Single(Waits(Demand("other", "b", JobPriority.Critical), mark)).Reason);
        Assert.Equal(WaitReason.BehindOwnTenantsJobs, Assert.Single(Waits(Demand("mine", "a", JobPriority.Critical), mark)).Reason);
    }

    [Fact]
    public void AppendWaits_PolicyHeldTheJob_ItsDetailDoesNotRepeatTheReason()
    {
        // explain prints the reason, then the detail: "held no replica meets objective: held: no replica was …".
        var held = Demand("held", "a", JobPriority.Critical);
        var mark = _log.Mark(T0);
        _log.Record(Held, held, T0);

        Assert.Equal(
            "no replica was predicted to meet its 800 ms TTFT objective, and the fastest was saturated with prefill",
            Assert.Single(Waits(held, mark)).Detail);
    }

    [Fact]
    public void AppendWaits_ReasonsChangeAndReturn_OneLinePerRun_InOrder()
    {
        var job = Demand("j");
        var mark = _log.Mark(T0);
        _log.Record(NoSlot, null, T0);
        _log.Record(new RoundStop(RoundStopReason.NothingFits, 10), null, T0.AddSeconds(1));
        _log.Record(NoSlot, null, T0.AddSeconds(2));

        Assert.Equal([WaitReason.NoSlot, WaitReason.NoKvRoom, WaitReason.NoSlot], Waits(job, mark).Select(e => e.Reason));
    }

    [Fact]
    public void AppendWaits_MoreVerdictsThanTheLogKeeps_SaysTheEarliestRoundsAreNotKept()
    {
        var job = Demand("j");
        var mark = _log.Mark(T0);
        for (var i = 0; i < WaitLog.Capacity + 10; i++)
        {
            // Alternating verdicts: each round is a verdict of its own.
            _log.Record(i % 2 == 0 ? NoSlot : new RoundStop(RoundStopReason.NothingFits, 10), null, T0.AddMilliseconds(i));
        }

        var waits = Waits(job, mark);

        Assert.Equal(WaitReason.RoundsNotKept, waits[0].Reason);
        Assert.True(waits.Length <= JobTrace.Capacity);
    }
}
