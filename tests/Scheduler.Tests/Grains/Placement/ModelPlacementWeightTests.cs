using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Placement;
using Scheduler.Grains;
using Scheduler.Grains.Placement;
using static Scheduler.Tests.Grains.GrainTestKit;

namespace Scheduler.Tests.Grains.Placement;

/// <summary>A tenant's weight as the placement's fair queue serves by it: the latest set, whichever way it came.</summary>
public sealed class ModelPlacementWeightTests
{
    private const string Model = "m";

    private readonly FakeTimeProvider _time = new();
    private readonly ModelPlacement _placement;

    public ModelPlacementWeightTests() => _placement = new ModelPlacement(Model, new PlacementState(), new PlacementOptions(), _time, NullLogger.Instance);

    private static string[] AdmittedIds(AdmissionRound? round) =>
        round is null ? [] : [.. round.Batches.SelectMany(b => b.Sequences).Select(s => s.Ticket.JobId)];

    [Fact]
    public void AJobAcceptedBeforeAWeightChange_QueuedAfterIt_DoesNotSetTheOldWeightBack()
    {
        // One slot, taken. Tenant a was raised from 1 to 100 at t0 + 1 s; a job of its accepted before that (its ticket
        // carries weight 1) reaches the queue after, as a job handed back or restored after a failover does.
        var t0 = _time.GetUtcNow();
        _placement.UpsertReplicas("link", [Replica("r", Model, "n", maxSequences: 1, kvCapacityTokens: 100_000)]);
        Assert.Equal(["running"], AdmittedIds(_placement.Enqueue(Ticket("running", "b", Model) with { SubmittedAt = t0 }).Round));
        for (var i = 0; i < 3; i++)
        {
            _placement.Enqueue(Ticket($"b-{i}", "b", Model) with { SubmittedAt = t0 });
        }

        _placement.SetTenantWeight("a", 100, t0 + TimeSpan.FromSeconds(1));
        _placement.Enqueue(Ticket("a-0", "a", Model) with { SubmittedAt = t0 + TimeSpan.FromSeconds(2), TenantWeight = 100 });
        for (var i = 1; i < 4; i++)
        {
            _placement.Enqueue(Ticket($"a-{i}", "a", Model) with { SubmittedAt = t0, TenantWeight = 1 });
        }

        var order = new List<string>();
        var finishing = "running";
        for (var i = 0; i < 7; i++)
        {
            var next = Assert.Single(AdmittedIds(_placement.OnProgress("r", [], [new FinishedSequence(finishing, 100, FinishReason.Length)])));
            order.Add(next);
            finishing = next;
        }

        // At weight 100 a's four jobs go before b's second; set back to 1, they alternate with b's.
        Assert.True(order.FindLastIndex(id => id.StartsWith("a-", StringComparison.Ordinal)) <= 4, string.Join(", ", order));
    }
}
