using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Scheduler.Client;
using Scheduler.Protos;
using Scheduler.Protos.V1;
using Scheduler.Silo.Api;
using Scheduler.Silo.Streaming;
using Scheduler.Silo.Telemetry;

namespace Scheduler.Tests.EndToEnd.Hostile;

/// <summary>A client that submits over StreamJobs and does not read: HTTP/2 flow control stops the silo's writes once
/// the stream's window is full, and the rest of its jobs' tokens wait in the silo. A live probe (1,000 jobs of 4,096
/// tokens on one such call) grew the standalone silo by 930 MB, an event object per token; now the tokens waiting for
/// one stream are merged as they arrive.</summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed class UnreadStreamTests(SchedulerCluster cluster)
{
    private const int Jobs = 40;

    [Fact]
    public async Task StreamJobs_NotRead_WhileItsJobsRun_HoldsMergedTokens_ThenDeliversEveryTokenOnceInOrder()
    {
        var (tenant, key, _) = SchedulerCluster.Tenants[2];
        using var client = new SchedulerClient(cluster.Channel, key);
        var hub = cluster.SiloServices.GetRequiredService<JobEventHub>();
        var before = hub.WaitingEvents;

        using var call = client.StreamMany(DateTime.UtcNow.AddSeconds(120));

        // Nothing read: every job runs to its end anyway (its record says so), its tokens waiting in the silo. (The
        // tenant is shared with other tests: its recent jobs of this length are this call's.)
        await SubmitUnread_UntilCompleted(call, "unread", tenant,
            completed => completed.Count(j => j.MaxTokens == SchedulerCluster.MaxOutputTokens && j.SubmittedAt.ToDateTime() > DateTime.UtcNow.AddMinutes(-2)));

        // Per job at most the events that wait unmerged, two merged runs of up to 256 tokens and its end: an event per
        // token was about 512 per job (20,000 for the call).
        var waiting = hub.WaitingEvents - before;
        Assert.True(waiting <= Jobs * (MergingEventQueue.MergeAfter + 3), $"{waiting} events wait for {Jobs} jobs' unread streams");

        var tokens = new Dictionary<string, List<int>>();
        var ends = new Dictionary<string, int>();
        await foreach (var message in call.ResponseStream.ReadAllAsync())
        {
            Assert.Equal(StreamJobsResponse.KindOneofCase.Event, message.KindCase);
            var e = message.Event;
            if (e.EventCase == JobEvent.EventOneofCase.Tokens)
            {
                var seen = tokens.TryGetValue(message.Ref, out var list) ? list : tokens[message.Ref] = [];
                seen.AddRange(Enumerable.Range(e.Tokens.FirstTokenIndex, e.Tokens.TokenCount));
            }
            else if (e.EventCase == JobEvent.EventOneofCase.Completed)
            {
                ends[message.Ref] = ends.GetValueOrDefault(message.Ref) + 1;
            }
        }

        Assert.Equal(Jobs, ends.Count);
        Assert.All(ends.Values, count => Assert.Equal(1, count));
        Assert.All(tokens.Values, seen => Assert.Equal(Enumerable.Range(0, SchedulerCluster.MaxOutputTokens), seen));
        Assert.Equal(Jobs, tokens.Count);
    }

    /// <summary>A client that reads nothing until well after its jobs ended: its stream is quiet because the silo's
    /// writes wait for it, and nothing was lost. The silo asked each such job's record after 5 quiet seconds and warned
    /// that the stream had "missed events", filling in nothing (a live probe: 200 unread streams, 200 false warnings an
    /// SRE would chase as a cluster fault).</summary>
    [Fact]
    public async Task StreamJobs_ReadOnlyLongAfterItsJobsEnded_WarnsOfNoMissedEvents()
    {
        var key = await cluster.NewTenantKey("late-reader", new TenantQuotas());
        var tenant = key.Replace("-key-", "-", StringComparison.Ordinal);
        using var client = cluster.ClientWithKey(key);
        using var call = client.StreamMany(DateTime.UtcNow.AddSeconds(120));
        await SubmitUnread_UntilCompleted(call, "late", tenant, completed => completed.Count);

        // Long enough for a quiet stream to be looked into.
        await Task.Delay(StreamBackfill.QuietInterval + (2 * StreamBackfill.Tick));

        var jobIds = new HashSet<string>();
        var ends = 0;
        await foreach (var message in call.ResponseStream.ReadAllAsync())
        {
            jobIds.Add(message.Event.JobId);
            ends += message.Event.EventCase == JobEvent.EventOneofCase.Completed ? 1 : 0;
        }

        Assert.Equal(Jobs, ends);
        Assert.Equal(Jobs, jobIds.Count);
        Assert.DoesNotContain(cluster.Logs.Messages, m => m.Contains("missed events", StringComparison.Ordinal) && jobIds.Any(id => m.Contains(id, StringComparison.Ordinal)));
    }

    /// <summary>A ref reused while its submission's first message waits for a client that does not read is refused after
    /// that message, so the refusal waited in the silo — and every further reuse too, without bound: the call went on
    /// reading them (a probe on the standalone: 1,000,000 reuses all written, the silo 533 MB -> 1,691 MB). A refusal waiting to be
    /// written now holds a place among the call's open submissions, so the call stops reading at
    /// <see cref="StreamJobsLimits.MaxOpenSubmissions"/>, and delivers them all once the client reads.</summary>
    [Fact]
    public async Task StreamJobs_NotRead_ARefReusedBeforeItsFirstMessage_StopsTheCallsReadingAtItsOpenLimit_ThenEveryRefusalComesAfterIt()
    {
        var key = await cluster.NewTenantKey("reused-unread", new TenantQuotas());
        var tenant = key.Replace("-key-", "-", StringComparison.Ordinal);
        using var refused = new TenantCounter(SemanticConventions.SubmissionsRefused, tenant, SemanticConventions.RpcStatusCode);
        using var client = cluster.ClientWithKey(key);
        using var call = client.StreamMany(DateTime.UtcNow.AddSeconds(120));

        // The call's stream is full of the unread jobs' tokens: the next job's first message cannot go out. (Parked, it
        // stays open, so every reuse of its ref is refused.)
        await SubmitUnread_UntilCompleted(call, "filler", tenant, completed => completed.Count, keepOpen: true);
        var reused = new StreamJobsRequest { Ref = "reused", Job = new SubmitJobRequest { Model = SchedulerCluster.ParkedModel, Prompt = "open", MaxTokens = 1 } };
        await call.RequestStream.WriteAsync(reused);
        const int reuses = 2 * StreamJobsLimits.MaxOpenSubmissions;
        for (var i = 0; i < reuses; i++)
        {
            await call.RequestStream.WriteAsync(reused);
        }

        // Read, refused and held: as many as there is room for beside the open jobs, no more.
        const int room = StreamJobsLimits.MaxOpenSubmissions - Jobs - 1;
        await Polling.Until(() => refused.Total() >= room, "the reuses to be refused", TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(50));
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Equal(room, refused.Total());

        // Once read, the open job's first message comes first, then every refusal of its ref.
        await call.RequestStream.CompleteAsync();
        var messages = new List<StreamJobsResponse>();
        await foreach (var message in call.ResponseStream.ReadAllAsync())
        {
            messages.Add(message);
            if (message.Ref == "reused" && messages.Count(m => m.Refused is not null) == reuses)
            {
                await client.CancelAsync(messages.First(m => m.Ref == "reused").Event.JobId);
            }
        }

        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        var ofTheReusedRef = messages.Where(m => m.Ref == "reused").ToList();
        Assert.Equal(JobEvent.EventOneofCase.Queued, ofTheReusedRef[0].Event?.EventCase);
        Assert.Equal(reuses, ofTheReusedRef.Count(m => m.Refused is { Field: "ref", Code: (int)StatusCode.InvalidArgument }));
        Assert.Equal(JobEvent.EventOneofCase.Cancelled, ofTheReusedRef[^1].Event?.EventCase);
        Assert.Equal(Jobs, messages.Count(m => m.Event?.Completed is not null));
        Assert.Equal(reuses, refused.Total());
    }

    /// <summary>Submits <see cref="Jobs"/> jobs over <paramref name="call"/>, reading nothing, and, unless
    /// <paramref name="keepOpen"/>, closes the call's side; then waits until <paramref name="ofTheCall"/> counts them all
    /// among <paramref name="tenant"/>'s completed jobs.</summary>
    private async Task SubmitUnread_UntilCompleted(
        AsyncDuplexStreamingCall<StreamJobsRequest, StreamJobsResponse> call, string name, string tenant, Func<IList<Job>, int> ofTheCall, bool keepOpen = false)
    {
        for (var i = 0; i < Jobs; i++)
        {
            await call.RequestStream.WriteAsync(new StreamJobsRequest
            {
                Ref = $"{name}-{i}",
                Job = new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = $"{name} {i}", MaxTokens = SchedulerCluster.MaxOutputTokens },
            });
        }

        if (!keepOpen)
        {
            await call.RequestStream.CompleteAsync();
        }

        using var admin = cluster.Admin();
        await Polling.Until(
            async () => ofTheCall((await admin.ListJobsAsync(new ListJobsRequest { TenantId = tenant, Statuses = { JobStatus.Completed }, PageSize = 500 })).Jobs) >= Jobs,
            "the unread call's jobs to complete",
            TimeSpan.FromSeconds(60),
            TimeSpan.FromMilliseconds(200));
    }
}
