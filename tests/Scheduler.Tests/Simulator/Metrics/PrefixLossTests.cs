using Scheduler.Abstractions.Jobs;
using Scheduler.Policies;
using Scheduler.Policies.Placement;
using Scheduler.Policies.Prefix;
using Scheduler.Policies.Profiles;
using Scheduler.Simulator.Engine;
using Scheduler.Simulator.Metrics;
using Scheduler.Simulator.Workload;

namespace Scheduler.Tests.Simulator.Metrics;

public sealed class PrefixLossTests
{
    private const int Precision = 9;

    [Fact]
    public void Admitted_WhileAnEarlierRequestStillPrefillsItsPrefix_CountsItStillPrefilling_NotEvicted()
    {
        var profile = AcceleratorProfiles.A100;
        var replica = new SimReplica(new ReplicaView("a", "n", "acc", profile, 8, profile.KvCapacityTokens), EngineCacheModel.Default);
        var blocks = PromptBlocks.FromBlockIds([1, 2, 3])!;
        var loss = new PrefixLoss();

        // Two requests with the same three-block prompt (1,536 cacheable tokens of 1,600); the second is admitted before
        // the replica has run a step of the first, so no cache holds the prefix yet, and none ever dropped it.
        foreach (var id in new[] { "first", "second" })
        {
            var request = new SimRequest(id, "t", 0, 1_600, 1, 10_000, blocks);
            var demand = new JobDemand(id, "t", request.PromptTokens, request.OutputTokens, JobPriority.Standard, 10_000, DateTimeOffset.UnixEpoch, Blocks: blocks);
            replica.View.Admit(demand);
            var sequence = new SimSequence(request, demand);
            loss.Admitted(sequence, [replica], replica);
            Assert.True(replica.Admit(sequence, 0));
        }

        Assert.Equal(0, loss.Evicted, Precision);
        Assert.Equal(1_536 / 3_200.0, loss.StillPrefilling, Precision);
        Assert.Equal(0, loss.HolderFull, Precision);
        Assert.Equal(0, loss.PlacedElsewhere, Precision);
    }
}
