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
}
