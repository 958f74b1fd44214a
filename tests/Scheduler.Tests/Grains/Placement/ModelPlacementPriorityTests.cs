using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Placement;
using Scheduler.Grains;
using Scheduler.Grains.Placement;
using Scheduler.Policies;
using static Scheduler.Tests.Grains.GrainTestKit;

namespace Scheduler.Tests.Grains.Placement;

/// <summary>Strict priority between classes through the placement core, with the product's default options
/// (cost-aware, weighted-fair, preemption on): a large critical job is not starved by standard traffic.</summary>
public sealed class ModelPlacementPriorityTests
{
    private const string Model = "m";

    private readonly FakeTimeProvider _time = new();
    private readonly ModelPlacement _placement;

    public ModelPlacementPriorityTests() => _placement = new ModelPlacement(Model, new PlacementState(), new PlacementOptions(), _time, NullLogger.Instance);

    private JobTicket Job(string jobId, string tenant, int prompt, int maxTokens, JobPriority priority = JobPriority.Standard) =>
        Ticket(jobId, tenant, Model, prompt, maxTokens, priority) with { SubmittedAt = _time.GetUtcNow() };

    private static string[] AdmittedIds(AdmissionRound? round) =>
        round is null ? [] : [.. round.Batches.SelectMany(b => b.Sequences).Select(s => s.Ticket.JobId)];

    [Fact]
    public void ALargeCriticalJob_UnderSteadyStandardTraffic_IsAdmittedOnceItsReplicaDrains_AndTheWaitsSayWhy()
    {
        // One 10,000-token replica running four standard jobs of 2,000 tokens: 2,000 free.
        _placement.UpsertReplicas("link", [Replica("r", Model, "n", maxSequences: 8, kvCapacityTokens: 10_000)]);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal([$"running-{i}"], AdmittedIds(_placement.Enqueue(Job($"running-{i}", "b", 1_000, 1_000)).Round));
        }

        // A critical job of 5,000 tokens fits nowhere, and no single stop would make room for it.
        Assert.Empty(AdmittedIds(_placement.Enqueue(Job("critical", "a", 4_000, 1_000, JobPriority.Critical)).Round));

        // Standard traffic keeps coming, each job small enough for the room free; as the running jobs end, one by one,
        // their room is kept for the critical job instead of being taken by the next standard job.
        var admittedBeforeCritical = new List<string>();
        string[] admitted = [];
        for (var i = 0; i < 4 && !admitted.Contains("critical"); i++)
        {
            admittedBeforeCritical.AddRange(AdmittedIds(_placement.Enqueue(Job($"standard-{i}", "b", 500, 500)).Round));
            admitted = AdmittedIds(_placement.OnProgress("r", [], [new FinishedSequence($"running-{i}", 1_000, FinishReason.Length)]));
            admittedBeforeCritical.AddRange(admitted.TakeWhile(id => id != "critical"));
        }

        Assert.Empty(admittedBeforeCritical);
        Assert.Equal("critical", admitted[0]);

        var critical = _placement.Explain("critical")!.Value.Events;
        var itsWait = Assert.Single(critical, e => e.Reason == WaitReason.ReplicaSetAsideForIt);
        Assert.Contains("replica r is set aside for it", itsWait.Detail, StringComparison.Ordinal);
        var standard = _placement.Explain("standard-0")!.Value.Events;
        var theirWait = Assert.Single(standard, e => e.Reason == WaitReason.ReplicaSetAsideForHigherClass);
        Assert.Contains("set aside for a critical job (critical)", theirWait.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void ALargeStandardJob_UnderSteadySmallerTrafficOfItsClass_HasItsReplicaSetAsideOnceItWaitedTheSetting_AndTheWaitsSayWhy()
    {
        _placement.UpsertReplicas("link", [Replica("r", Model, "n", maxSequences: 8, kvCapacityTokens: 10_000)]);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal([$"running-{i}"], AdmittedIds(_placement.Enqueue(Job($"running-{i}", "b", 1_000, 1_000)).Round));
        }

        // A standard job of 5,000 tokens fits nowhere; smaller standard jobs take the 2,000 free (work conservation).
        Assert.Empty(AdmittedIds(_placement.Enqueue(Job("big", "a", 4_000, 1_000)).Round));
        Assert.Equal(["small-0", "small-1"], [.. AdmittedIds(_placement.Enqueue(Job("small-0", "b", 500, 500)).Round), .. AdmittedIds(_placement.Enqueue(Job("small-1", "b", 500, 500)).Round)]);

        // Once it has waited the setting (10 s by default), the room freed is kept for it.
        _time.Advance(new PlacementOptions().SetAsideWithinClassAfter);
        var admitted = new List<string>();
        for (var i = 0; i < 4 && !admitted.Contains("big"); i++)
        {
            admitted.AddRange(AdmittedIds(_placement.Enqueue(Job($"small-{i + 2}", "b", 500, 500)).Round));
            admitted.AddRange(AdmittedIds(_placement.OnProgress("r", [], [new FinishedSequence($"running-{i}", 1_000, FinishReason.Length)])));
        }

        Assert.Equal("big", admitted[0]);
        var itsWait = Assert.Single(_placement.Explain("big")!.Value.Events, e => e.Reason == WaitReason.ReplicaSetAsideForIt);
        Assert.Contains("replica r is set aside for it (no other job is admitted there)", itsWait.Detail, StringComparison.Ordinal);
        var theirWait = Assert.Single(_placement.Explain("small-2")!.Value.Events, e => e.Reason == WaitReason.ReplicaSetAsideForLongerWaitingJob);
        Assert.Contains("set aside for a job of its class (big)", theirWait.Detail, StringComparison.Ordinal);
    }
}
