using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Placement;
using Scheduler.Policies;
using Scheduler.Policies.Profiles;
using Scheduler.Silo.Telemetry;

namespace Scheduler.Tests.Silo.Telemetry;

public sealed class FleetReadingTests
{
    [Fact]
    public void From_ShapesQueuesReplicasAndAcceleratorStates_AsGaugeMeasurements()
    {
        var replica = new ReplicaSnapshot("r1", "n1", "a1", "H100", true, MaxSequences: 8, KvCapacityTokens: 1000, RunningSequences: 3, FreeKvTokens: 400, 0, 0, []);
        var placement = new PlacementSnapshot("m", 3, [], [replica], "p", "f", "b",
            [new QueuedCount("t1", JobPriority.Critical, 1), new QueuedCount("t1", JobPriority.Standard, 2)],
            new CapacitySnapshot(60, 10, 20, 0, 0, double.NaN, [new PoolCapacity("h100-spot", 1, 3, 8, 1.9, 120, false, 0.7, "H100")], 10, 300));
        AcceleratorInfo Accelerator(string id, AcceleratorState state) =>
            new(new AcceleratorRegistration(id, "n1", AcceleratorProfiles.H100), state, [], 0);

        var reading = FleetReading.From([placement], [Accelerator("a1", AcceleratorState.Ready), Accelerator("a2", AcceleratorState.Ready), Accelerator("a3", AcceleratorState.Lost)]);

        Assert.Equal(
            [("t1", "critical", 1L), ("t1", "standard", 2L)],
            reading.QueuedJobs.Select(m => (Tag(m.Tags, "scheduler.tenant"), Tag(m.Tags, "scheduler.job.priority"), m.Value)).Order());
        Assert.All(reading.QueuedJobs, m => Assert.Equal("m", Tag(m.Tags, "gen_ai.request.model")));
        Assert.Equal((3L, 5L, 600L, 1000L), (reading.RunningSequences.Single().Value, reading.FreeSlots.Single().Value, reading.KvTokensUsed.Single().Value, reading.KvTokensCapacity.Single().Value));
        Assert.Equal(("r1", "n1", "H100"), (Tag(reading.FreeSlots[0].Tags, "scheduler.replica.id"), Tag(reading.FreeSlots[0].Tags, "scheduler.node.id"), Tag(reading.FreeSlots[0].Tags, "scheduler.accelerator.product")));

        var wanted = reading.WantedReplicas.Single();
        Assert.Equal(("m", "h100-spot", "H100", 3L),
            (Tag(wanted.Tags, "gen_ai.request.model"), Tag(wanted.Tags, "scheduler.worker.pool"), Tag(wanted.Tags, "scheduler.accelerator.product"), wanted.Value));

        // Every state, zeros included, for each product seen.
        Assert.Equal(
            [("cordoned", 0L), ("draining", 0L), ("lost", 1L), ("ready", 2L)],
            reading.Accelerators.Select(m => (Tag(m.Tags, "scheduler.accelerator.state"), m.Value)).Order());
    }

    [Fact]
    public void From_WithoutTenantLabels_CountsQueuedJobsPerModelAndPriority_AllTenantsTogether()
    {
        var placement = new PlacementSnapshot("m", 0, [], [], "p", "f", "b",
            [new QueuedCount("t1", JobPriority.Critical, 1), new QueuedCount("t2", JobPriority.Critical, 4), new QueuedCount("t1", JobPriority.Standard, 2)],
            null);

        var reading = FleetReading.From([placement], [], byTenant: false);

        // A view that drops a gauge's label keeps one of its values, not their sum: the reading must add them up itself.
        Assert.Equal(
            [("critical", 5L), ("standard", 2L)],
            reading.QueuedJobs.Select(m => (Tag(m.Tags, "scheduler.job.priority")!, m.Value)).Order());
        Assert.All(reading.QueuedJobs, m => Assert.Null(Tag(m.Tags, "scheduler.tenant")));
    }

    private static string? Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, string key)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == key)
            {
                return (string?)tag.Value;
            }
        }

        return null;
    }
}
