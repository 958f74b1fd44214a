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

    public void Dispose() => _batch.Dispose();

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
        _batch.Add(new SimulatedSequence(spec, new PrefixBlockCache(0)));

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
}
