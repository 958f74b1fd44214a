using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Placement;
using Scheduler.Grains;
using Scheduler.Grains.Placement;
using static Scheduler.Tests.Grains.GrainTestKit;

namespace Scheduler.Tests.Grains.Placement;

/// <summary>The placement core and the jobs that finished while storage refused their records (a Redis outage): their
/// slots are free at once, and their ends are written here should their node link's stream die before its retried
/// write lands.</summary>
public sealed class ModelPlacementUnrecordedTests
{
    private const string Model = "m";
    private static readonly JobOutcome s_completed = new(JobStatus.Completed, "length", new JobUsage(100, 3, 0, 0, 0, 0), "abc", null, [1, 2, 3]);

    private readonly FakeTimeProvider _time = new();
    private readonly ModelPlacement _placement;

    public ModelPlacementUnrecordedTests() => _placement = new ModelPlacement(Model, new PlacementState(), new PlacementOptions(), _time, NullLogger.Instance);

    private static ReplicaRegistration On(string replicaId, string nodeId, int maxSequences) =>
        Replica(replicaId, Model, nodeId, maxSequences, kvCapacityTokens: 100_000);

    private static UnrecordedFinish Unrecorded(string jobId) => new(new FinishedSequence(jobId, 3, FinishReason.Length), s_completed);

    private static string[] AdmittedIds(AdmissionRound round) => [.. round.Batches.SelectMany(b => b.Sequences).Select(s => s.Ticket.JobId)];

    /// <summary>Replica "r" of node "n" with one slot, reached through stream "link", running "done" with "next" queued
    /// behind it; then "done" finishes and storage refuses its record.</summary>
    private AdmissionRound DoneFinishedUnrecorded()
    {
        _placement.UpsertReplicas("link", [On("r", "n", maxSequences: 1)]);
        foreach (var jobId in new[] { "done", "next" })
        {
            _placement.Enqueue(Ticket(jobId, "t", Model) with { SubmittedAt = _time.GetUtcNow() });
        }

        return _placement.OnFinishedUnrecorded("r", "link", [Unrecorded("done")])!;
    }

    [Fact]
    public void OnFinishedUnrecorded_FreesTheSlotAtOnce_AndWritesNothingWhileItsStreamLives()
    {
        var round = DoneFinishedUnrecorded();

        // Its slot is not held for the outage: the job behind it runs there now.
        Assert.Equal(["next"], AdmittedIds(round));
        Assert.Empty(round.Ended);
        Assert.Null(_placement.Describe("done"));

        // A resubmission (its idempotency key) does not run it again.
        Assert.Null(_placement.Enqueue(Ticket("done", "t", Model)).Round);
        Assert.Null(_placement.Describe("done"));

        // Its node link's silo is still writing the record: the placement leaves it to it.
        Assert.Empty(_placement.AdmitWhatFits().Ended);
    }

    [Theory]
    [InlineData("its stream broke")]
    [InlineData("its stream was closed")]
    [InlineData("its node was lost")]
    [InlineData("its node registered a new stream")]
    [InlineData("its node was forgotten")]
    public void OnFinishedUnrecorded_ItsStreamDiesBeforeTheRecordLands_ThePlacementWritesTheEnd_Once(string how)
    {
        DoneFinishedUnrecorded();

        // The silo holding the stream may have died with it, and its writes: no one else would write the end, and the
        // job would stay journaled, on no replica and in no queue.
        var round = how switch
        {
            "its stream broke" => _placement.Requeue("r", "link", [new RequeuedSequence("next", 0)], HandBack.NodeLost),
            "its stream was closed" => _placement.Requeue("r", "link", [new RequeuedSequence("next", 0)], HandBack.StreamClosed),
            "its node was lost" => _placement.LoseLink("link"),
            "its node registered a new stream" => RunsNoRound(_placement.UpsertReplicas("link-2", [On("r", "n", maxSequences: 1)])),
            _ => RunsNoRound(_placement.RemoveReplicas(["r"])),
        };

        var ended = Assert.Single(round!.Ended);
        Assert.Equal(("done", "r"), (ended.Ticket.JobId, ended.Placement?.ReplicaId));
        Assert.Same(s_completed, ended.Outcome);

        // Its watchers heard the end from the node link already.
        Assert.Empty(ended.Announcement.Watchers);
        Assert.Null(_placement.Describe("done"));
        Assert.Empty(_placement.AdmitWhatFits().Ended);
        Assert.Empty(_placement.LoseLink("link")?.Ended ?? []);
    }

    [Fact]
    public void OnRecorded_TheEndIsForgotten_SoItsStreamDyingLaterWritesNothing()
    {
        DoneFinishedUnrecorded();

        _placement.ForgetUnrecorded("link", ["done"]);

        Assert.Empty(_placement.LoseLink("link")!.Ended);
    }

    [Fact]
    public void OnFinishedUnrecorded_FromAStreamTheReplicaNoLongerUses_IsIgnored()
    {
        _placement.UpsertReplicas("link", [On("r", "n", maxSequences: 1)]);
        _placement.Enqueue(Ticket("done", "t", Model) with { SubmittedAt = _time.GetUtcNow() });

        // The node registered anew: the job went back to the queue and runs again under the new stream.
        _placement.UpsertReplicas("link-2", [On("r", "n", maxSequences: 1)]);
        Assert.Equal(["done"], AdmittedIds(_placement.AdmitWhatFits()));

        // The old stream's report of its first run (whose write, should it land, is the end recorded first) frees
        // nothing the new run holds, and is not written here when the new stream dies.
        Assert.Null(_placement.OnFinishedUnrecorded("r", "link", [Unrecorded("done")]));
        Assert.Equal(new JobLocation("n", 0), _placement.Locate("done"));
        Assert.Empty(_placement.LoseLink("link-2")!.Ended);
    }

    // The grain runs a round after these.
    private AdmissionRound RunsNoRound(bool _) => _placement.AdmitWhatFits();
}
