using Microsoft.Extensions.Time.Testing;
using Scheduler.Policies.Prefix;
using Scheduler.Policies.Profiles;
using Scheduler.Protos.V1;
using Scheduler.Worker.Engines;
using static Scheduler.Tests.Worker.EngineRun;

namespace Scheduler.Tests.Worker;

/// <summary>The admission screening every engine shares, on the batch itself.</summary>
public sealed class RunningBatchTests : IDisposable
{
    private readonly RunningBatch<SimulatedSequence> _batch = new("replica-0", AcceleratorProfiles.H100, new FakeTimeProvider());

    // One slot and one admission held ahead of it: the node-side queue.
    private readonly RunningBatch<SimulatedSequence> _oneSlot = new("replica-1", AcceleratorProfiles.H100 with { MaxSequences = 1 }, new FakeTimeProvider(), queueAhead: 1);

    public void Dispose()
    {
        _batch.Dispose();
        _oneSlot.Dispose();
    }

    [Fact]
    public void Screen_NewSequence_IsTheEnginesToDecide_AndReportsNothing()
    {
        Assert.Equal(ScreenedAdmission.Run, _batch.Screen(Sequence("a", 10, 8)));
        Assert.Equal(ScreenedAdmission.Run, _batch.Screen(Sequence("b", 10, 8, resumeFrom: 7)));

        Assert.False(_batch.HasFinishesToReport);
    }

    [Fact]
    public void Screen_SequenceAlreadyRunning_IsADuplicate_IgnoredWithoutAReport()
    {
        var spec = Sequence("a", 10, 8);
        _batch.Add(Simulated(spec));

        Assert.Equal(ScreenedAdmission.Duplicate, _batch.Screen(spec));

        Assert.False(_batch.HasFinishesToReport);
        Assert.Equal(1, _batch.Count);
    }

    [Theory]
    [InlineData(8)]
    [InlineData(9)]
    public void Screen_ReDispatchWithEveryTokenDelivered_FinishesAsLength_WithTheNextReport(int resumeFrom)
    {
        Assert.Equal(ScreenedAdmission.AlreadyDelivered, _batch.Screen(Sequence("a", 10, 8, resumeFrom: resumeFrom)));

        var finished = Assert.Single(_batch.StartReport().Finished);
        Assert.Equal(("a", FinishReason.Length, resumeFrom), (finished.SequenceId, finished.Reason, finished.CompletionTokens));
        Assert.Equal(0, _batch.Count);
        Assert.Equal(0, _batch.KvUsed);
    }

    [Fact]
    public void QueueAhead_HoldsOnlyWhileEverySlotIsTaken_AndOnlyAsManyAsItMay()
    {
        // A free slot: the engine decides, nothing is held.
        Assert.False(_oneSlot.TryQueueAhead(Sequence("a", 10, 8)));
        _oneSlot.Add(Simulated(Sequence("a", 10, 8)));

        Assert.True(_oneSlot.TryQueueAhead(Sequence("b", 10, 8)));
        Assert.False(_oneSlot.TryQueueAhead(Sequence("c", 10, 8)));

        Assert.Equal((1, 1), (_oneSlot.Count, _oneSlot.QueuedAhead));
        Assert.Null(_oneSlot.TakeAhead());
        Assert.Equal(0, _oneSlot.StartedAhead);
        Assert.False(_batch.TryQueueAhead(Sequence("x", 10, 8)));
    }

    [Fact]
    public void QueueAhead_HeldAdmissionsComeBackOldestFirst_OnlyAsSlotsFree()
    {
        using var batch = new RunningBatch<SimulatedSequence>("r", AcceleratorProfiles.H100 with { MaxSequences = 2 }, new FakeTimeProvider(), queueAhead: 2);
        var running = new[] { Simulated(Sequence("a", 10, 8)), Simulated(Sequence("b", 10, 8)) };
        Array.ForEach(running, batch.Add);
        Assert.True(batch.TryQueueAhead(Sequence("c", 10, 8)));
        Assert.True(batch.TryQueueAhead(Sequence("d", 10, 8)));

        batch.Remove(running[1]);

        Assert.Equal("c", batch.TakeAhead()!.SequenceId);
        batch.Add(Simulated(Sequence("c", 10, 8)));
        Assert.Null(batch.TakeAhead());
        batch.Remove(running[0]);
        Assert.Equal("d", batch.TakeAhead()!.SequenceId);
        Assert.Equal((2, 0), (batch.StartedAhead, batch.QueuedAhead));
    }

    [Fact]
    public void QueueAhead_HeldAdmissionAgain_IsADuplicate()
    {
        _oneSlot.Add(Simulated(Sequence("a", 10, 8)));
        Assert.True(_oneSlot.TryQueueAhead(Sequence("b", 10, 8)));

        Assert.Equal(ScreenedAdmission.Duplicate, _oneSlot.Screen(Sequence("b", 10, 8)));
        Assert.Equal(1, _oneSlot.QueuedAhead);
    }

    [Fact]
    public void Cancel_HeldAdmission_LeavesTheQueue_AndIsReportedCancelledFromWhereItWouldHaveResumed()
    {
        _oneSlot.Add(Simulated(Sequence("a", 10, 8)));
        Assert.True(_oneSlot.TryQueueAhead(Sequence("b", 10, 8, resumeFrom: 3)));

        Assert.Empty(_oneSlot.Cancel(["b", "unknown"], FinishReason.Cancelled));

        var finished = Assert.Single(_oneSlot.StartReport().Finished);
        Assert.Equal(("b", FinishReason.Cancelled, 3), (finished.SequenceId, finished.Reason, finished.CompletionTokens));
        Assert.Equal((0, 1), (_oneSlot.QueuedAhead, _oneSlot.Count));
        Assert.Null(_oneSlot.TakeAhead());
    }

    [Fact]
    public void ReportWithStepUnderWay_MovesWaitingFinishesIntoTheReportUnderWay_AndWithoutOneLeavesThemForTheNext()
    {
        var sink = new RecordingSink();
        _batch.Add(Simulated(Sequence("a", 10, 8)));
        _batch.Add(Simulated(Sequence("b", 10, 8)));
        var underWay = _batch.StartReport();

        _batch.Cancel(["a"], FinishReason.Preempted);
        _batch.ReportWithStepUnderWay();

        Assert.Equal(("a", FinishReason.Preempted), (underWay.Finished.Single().SequenceId, underWay.Finished.Single().Reason));
        Assert.True(_batch.TryPublish(underWay, _batch.Epoch, sink));

        // Published: no report is under way, so a later stop waits for the next one.
        _batch.Cancel(["b"], FinishReason.Cancelled);
        _batch.ReportWithStepUnderWay();
        Assert.Equal("b", _batch.StartReport().Finished.Single().SequenceId);
    }

    [Fact]
    public void ReportWithStepUnderWay_ReportStartedBeforeDropAll_KeepsTheFinishForTheNextReport()
    {
        // A report started before DropAll is dropped unpublished: a finish moved into it would be lost.
        var sink = new RecordingSink();
        _batch.Add(Simulated(Sequence("old", 10, 8)));
        var stale = _batch.StartReport();
        var staleEpoch = _batch.Epoch;
        _batch.DropAll();
        _batch.Add(Simulated(Sequence("new", 10, 8)));

        _batch.Cancel(["new"], FinishReason.Preempted);
        _batch.ReportWithStepUnderWay();

        Assert.Empty(stale.Finished);
        Assert.True(_batch.TryPublish(stale, staleEpoch, sink));
        Assert.Empty(sink.Reports);
        Assert.Equal("new", _batch.StartReport().Finished.Single().SequenceId);
    }

    [Fact]
    public void DropAll_DropsHeldAdmissionsToo_Silently()
    {
        _oneSlot.Add(Simulated(Sequence("a", 10, 8)));
        Assert.True(_oneSlot.TryQueueAhead(Sequence("b", 10, 8)));

        _oneSlot.DropAll();

        Assert.Equal((0, 0), (_oneSlot.Count, _oneSlot.QueuedAhead));
        Assert.Null(_oneSlot.TakeAhead());
        Assert.Empty(_oneSlot.StartReport().Finished);
        Assert.Equal(ScreenedAdmission.Run, _oneSlot.Screen(Sequence("b", 10, 8)));
    }

    [Fact]
    public void Settled_OnlyOnceNothingRunsOrWaits_AndTheLastFinishIsPublished()
    {
        // What a stopping node waits for before it ends its stream: a finish still in a step under way would be lost.
        Assert.True(_oneSlot.Settled);
        _oneSlot.Add(Simulated(Sequence("a", 10, 8)));
        Assert.True(_oneSlot.TryQueueAhead(Sequence("b", 10, 8)));
        Assert.False(_oneSlot.Settled);

        // The step ends both (the held one cancelled): nothing runs or waits, but the report is not out yet.
        _oneSlot.Cancel(["a", "b"], FinishReason.Cancelled);
        Assert.False(_oneSlot.Settled);
        var report = _oneSlot.StartReport();
        Assert.Equal(2, report.Finished.Count);
        Assert.False(_oneSlot.Settled);

        // A full sink keeps it unsettled; published, it settles.
        var sink = new RecordingSink { Full = true };
        Assert.False(_oneSlot.TryPublish(report, _oneSlot.Epoch, sink));
        Assert.False(_oneSlot.Settled);
        sink.Full = false;
        Assert.True(_oneSlot.TryPublish(report, _oneSlot.Epoch, sink));
        Assert.True(_oneSlot.Settled);
    }

    // A sequence of the simulated engine with no prefix cache to draw on.
    private static SimulatedSequence Simulated(SequenceSpec spec) => new(spec, new PrefixBlockCache(0));
}
