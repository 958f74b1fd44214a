using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Placement;
using Scheduler.Abstractions.Tenants;
using Scheduler.Grains.Jobs;
using Scheduler.Policies;
using Scheduler.Protos.V1;
using Scheduler.Silo.Nodes;
using FinishReason = Scheduler.Abstractions.Jobs.FinishReason;
using JobStatus = Scheduler.Abstractions.Jobs.JobStatus;

namespace Scheduler.Tests.Silo.Nodes;

public sealed class GrpcNodeLinkTests
{
    [Fact]
    public async Task StepReport_FinishWhoseRecordIsNotWrittenYet_ThePlacementHearsOfItOnlyOnceTheRecordHoldsTheEnd()
    {
        // The silo holding the node's stream can die between reading a job's finish and its record's write. Told the
        // job finished before the record held the end, the placement forgot it: the job stayed journaled, in no queue
        // and on no replica, its every token delivered and its end never (the two-silo kill test, a few jobs of 600).
        // Still counting it under this stream, the placement hands it back when the node registers anew or is lost.
        using var fixture = new NodeLinkFixture();
        var (journal, calls) = (fixture.Journal, fixture.Calls);
        var watcher = new RecordingEventSink();
        var ticket = NodeLinkFixture.Ticket("job-finishing", watcher);
        await journal.Accept(ticket);

        // The whole job in one step: its three tokens and its finish.
        await using var link = fixture.Start(NodeLinkFixture.WholeJobInOneStep());

        using (journal.HoldSettles())
        {
            Assert.True(link.Admit("r0", [NodeLinkFixture.OnR0(ticket)]));

            // The step's progress went out (the prefill), and the tokens reached the watcher; the finish waits for the record.
            await Polling.Until(() => calls.CallsTo<IPlacementGrain>(nameof(IPlacementGrain.OnProgress)).Count > 0, "the step's progress reaches the placement",
                TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(10));
            await Task.Delay(200);
            var progress = Assert.Single(calls.CallsTo<IPlacementGrain>(nameof(IPlacementGrain.OnProgress)));
            Assert.Equal(["job-finishing"], (string[])progress.Arguments[1]!);
            Assert.Empty((FinishedSequence[])progress.Arguments[2]!);
            Assert.Equal(3, watcher.Events.Where(e => e.Kind == JobEventKind.Tokens).Sum(e => e.TokenCount));
            Assert.DoesNotContain(watcher.Events, e => e.IsTerminal);
            Assert.Empty(calls.CallsTo<ITenantGrain>(nameof(ITenantGrain.OnFinished)));
        }

        // Once the record holds the end: the placement frees the job's place, its watchers and tenant hear the end.
        await Polling.Until(() => calls.CallsTo<IPlacementGrain>(nameof(IPlacementGrain.OnProgress)).Count == 2, "the finish reaches the placement",
            TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(10));
        var finished = calls.CallsTo<IPlacementGrain>(nameof(IPlacementGrain.OnProgress))[1];
        Assert.Equal("r0", finished.Arguments[0]);
        Assert.Equal([new FinishedSequence("job-finishing", 3, FinishReason.Length)], (FinishedSequence[])finished.Arguments[2]!);
        Assert.Equal(JobStatus.Completed, (await journal.FindSettled("job-finishing"))!.Outcome.Status);
        await Polling.Until(() => watcher.Events.Any(e => e.IsTerminal), "the watcher hears the end", TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(10));
        Assert.Single(calls.CallsTo<ITenantGrain>(nameof(ITenantGrain.OnFinished)));
    }

    [Fact]
    public async Task Admit_JobAlreadyRunningOnTheReplica_IsNotSentToTheNodeAgain()
    {
        // A rebuilt placement may dispatch a job again to the replica running it; the run goes on, so the node is not
        // told to start it again (its engine would ignore the repeat, and a second run span would never end).
        using var fixture = new NodeLinkFixture();
        var started = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var worker = new ScriptedWorker(admit =>
        {
            foreach (var s in admit.Sequences)
            {
                started.Enqueue(s.SequenceId);
            }

            return [];
        });
        var watcher = new RecordingEventSink();
        AdmittedSequence Admitted(string jobId) => NodeLinkFixture.OnR0(NodeLinkFixture.Ticket(jobId, watcher));
        await using var link = fixture.Start(worker);

        Assert.True(link.Admit("r0", [Admitted("job-a")]));
        Assert.True(link.Admit("r0", [Admitted("job-a")]));
        Assert.True(link.Admit("r0", [Admitted("job-b")]));

        // The stream keeps the order: once job-b reached the node, a repeat of job-a would have too.
        await Polling.Until(() => started.Contains("job-b"), "job-b reaches the node", TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(10));
        Assert.Equal(["job-a", "job-b"], started);
    }

    [Fact]
    public async Task StepReport_FinishWhoseRecordStorageRefuses_ThePlacementKeepsItsEndUnderTheStream_AndForgetsItOnceItLands()
    {
        // Storage refusing the record (a Redis outage), the link writes it again every second. Told the job finished,
        // the placement forgot it, and this silo dying before storage answered left the job journaled, held by nobody.
        // Told it finished unrecorded, with its outcome, the placement frees its slot at once and writes the end itself
        // should this stream die first; told when the retried write lands, it forgets it.
        using var fixture = new NodeLinkFixture();
        var (journal, calls) = (fixture.Journal, fixture.Calls);
        var watcher = new RecordingEventSink();
        var ticket = NodeLinkFixture.Ticket("job-unrecorded", watcher);
        await journal.Accept(ticket);
        await using var link = fixture.Start(NodeLinkFixture.WholeJobInOneStep());

        using (journal.RefuseSettles("m"))
        {
            Assert.True(link.Admit("r0", [NodeLinkFixture.OnR0(ticket)]));

            await Polling.Until(() => calls.CallsTo<IPlacementGrain>(nameof(IPlacementGrain.OnFinishedUnrecorded)).Count > 0,
                "the unrecorded finish reaches the placement", TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(10));
            var told = Assert.Single(calls.CallsTo<IPlacementGrain>(nameof(IPlacementGrain.OnFinishedUnrecorded)));
            Assert.Equal(("m", "r0", link.LinkId), (told.Key, told.Arguments[0], told.Arguments[1]));
            var unrecorded = Assert.Single((UnrecordedFinish[])told.Arguments[2]!);
            Assert.Equal(new FinishedSequence("job-unrecorded", 3, FinishReason.Length), unrecorded.Sequence);
            Assert.Equal((JobStatus.Completed, "abc", 3), (unrecorded.Outcome.Status, unrecorded.Outcome.Output, unrecorded.Outcome.Usage.CompletionTokens));

            // Not as a plain finish, which the placement forgets; the watcher hears the end at once (the engine is done).
            Assert.All(calls.CallsTo<IPlacementGrain>(nameof(IPlacementGrain.OnProgress)), c => Assert.Empty((FinishedSequence[])c.Arguments[2]!));
            await Polling.Until(() => watcher.Events.Any(e => e.IsTerminal), "the watcher hears the end", TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(10));

            // A retry or more refused meanwhile: nothing landed.
            await Task.Delay(JobSettlement.RetryPeriod * 1.5);
            Assert.Empty(calls.CallsTo<IPlacementGrain>(nameof(IPlacementGrain.OnRecorded)));
            Assert.Null(await journal.FindSettled("job-unrecorded"));
        }

        // Storage answers: the retried write lands, and the placement forgets the end it kept.
        await Polling.Until(() => calls.CallsTo<IPlacementGrain>(nameof(IPlacementGrain.OnRecorded)).Count > 0,
            "the placement hears the record landed", TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(10));
        var recorded = Assert.Single(calls.CallsTo<IPlacementGrain>(nameof(IPlacementGrain.OnRecorded)));
        Assert.Equal(("m", link.LinkId), (recorded.Key, recorded.Arguments[0]));
        Assert.Equal(["job-unrecorded"], (string[])recorded.Arguments[1]!);
        Assert.Equal(JobStatus.Completed, (await journal.FindSettled("job-unrecorded"))!.Outcome.Status);
        Assert.All(calls.CallsTo<IPlacementGrain>(nameof(IPlacementGrain.OnProgress)), c => Assert.Empty((FinishedSequence[])c.Arguments[2]!));
    }

    [Fact]
    public void ToSpec_ResumedChatJob_CarriesItsMessagesRenderedPromptAndResumePoint()
    {
        var request = new JobRequest(
            "llama-3.1-8b", "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", null, 9, 16, JobPriority.Standard, 2000, null, null, null,
            Messages: [new JobMessage("system", "be brief"), new JobMessage("user", "hi")]);
        var ticket = new JobTicket("job-1", "tenant", request, DateTimeOffset.UnixEpoch, [], 1.0) with
        {
            ResumeFromToken = 5,
            Delivered = new DeliveredOutput("abcde", [1, 2, 3, 4, 5]),
        };

        const string runSpan = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        var spec = GrpcNodeLink.ToSpec(ticket, runSpan);

        Assert.Equal(
            [new ChatTurn { Role = "system", Content = "be brief" }, new ChatTurn { Role = "user", Content = "hi" }],
            spec.Messages);
        Assert.Equal(request.Prompt, spec.Prompt);
        Assert.Equal((9, 16, 5), (spec.PromptTokens, spec.MaxTokens, spec.ResumeFromToken));
        Assert.Equal(runSpan, spec.Traceparent);
        Assert.Equal("abcde", spec.ResumeText);
    }

    [Fact]
    public void ToSpec_DeliveredTextNotCoveringTheResumePoint_SendsNoResumeText()
    {
        // The record holds the text of 3 tokens, the job resumes at 5: an engine continuing after it would repeat two.
        var request = new JobRequest("m", "hello", null, 1, 16, JobPriority.Standard, 2000, null, null, null);
        var ticket = new JobTicket("job-3", "tenant", request, DateTimeOffset.UnixEpoch, [], 1.0) with
        {
            ResumeFromToken = 5,
            Delivered = new DeliveredOutput("abc", [1, 2, 3]),
        };

        Assert.Equal("", GrpcNodeLink.ToSpec(ticket, traceParent: null).ResumeText);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ToSpec_TellsTheEngineWhetherTheClientSetMaxTokens(bool fitted)
    {
        // An engine counting the prompt with the model's tokenizer lowers a fitted budget to its context, not a set one.
        var request = new JobRequest("m", "hello", null, 1, 16, JobPriority.Standard, 2000, null, null, null, FitMaxTokens: fitted);

        var spec = GrpcNodeLink.ToSpec(new JobTicket("job-4", "tenant", request, DateTimeOffset.UnixEpoch, [], 1.0), traceParent: null);

        Assert.Equal((fitted, 16), (spec.FitMaxTokens, spec.MaxTokens));
    }

    [Fact]
    public void ToSpec_TextJob_HasNoMessages() =>
        Assert.Empty(GrpcNodeLink.ToSpec(new JobTicket(
            "job-2", "tenant", new JobRequest("m", "hello", null, 1, 4, JobPriority.Standard, 2000, null, null, null), DateTimeOffset.UnixEpoch, [], 1.0), traceParent: null).Messages);
}
