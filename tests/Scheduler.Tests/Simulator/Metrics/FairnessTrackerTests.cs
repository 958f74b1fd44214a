using Scheduler.Simulator;
using Scheduler.Simulator.Fleet;
using Scheduler.Simulator.Workload;

namespace Scheduler.Tests.Simulator.Metrics;

public sealed class FairnessTrackerTests
{
    [Fact]
    public void Run_ThousandsOfTenantsFewBackloggedAtOnce_KeepsNoBookkeepingPerPairOfTenants()
    {
        // A KV trace whose every conversation is a tenant (session_id): 4,000 one-request tenants, 20 ms apart, on a
        // fleet that keeps up (few backlogged at once). The tracker kept a service baseline for every pair of tenants it
        // had ever seen and visited all of them on every admission: 4,000² doubles (≥ 128 MB) here, 13 s and 1.3 GB
        // for 10,000 sessions, quadratic beyond.
        const int Tenants = 4_000;
        var requests = Enumerable.Range(0, Tenants)
            .Select(i => new SimRequest($"r{i}", $"session-{i}", i * 20.0, 600, 20, TtftObjective.For(600))).ToList();
        var workload = new Workload("sessions", requests, requests.ToDictionary(r => r.TenantId, _ => 1.0));
        var simulation = new Simulation(SimulationTests.Fleet(("H100", 2, PricingMode.Hourly)), workload, new PolicyChoice("cost-aware", "weighted-fair", "continuous"), seed: 1);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var run = simulation.Run();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(Tenants, run.Finished.Count);
        Assert.True(allocated < 64_000_000, $"{allocated:#,0} bytes allocated replaying {Tenants:#,0} one-request tenants");
    }
}
