using System.Diagnostics;
using System.Diagnostics.Metrics;
using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Worker.Hosting;

namespace Scheduler.Tests.EndToEnd;

/// <summary>
/// <c>Scheduler:TokenStreamIntervalMilliseconds</c> over real gRPC, with an engine paced at an L4's published speed (a
/// step every few tens of milliseconds, as a real one): the job's tokens reach the client a few at a time, at most one
/// message per interval after the first, every token once and in order, and the job's end is not held.
/// </summary>
public sealed class TokenStreamIntervalTests : IAsyncLifetime
{
    private const string Model = "llama-3.1-8b";
    private const string TenantKey = "token-interval-tenant-key";
    private const int IntervalMs = 300;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private LoopbackScheduler _scheduler = null!;

    public async Task InitializeAsync()
    {
        _scheduler = await LoopbackScheduler.StartAsync(Model, "token-interval-tenant", TenantKey, $"--Scheduler:TokenStreamIntervalMilliseconds={IntervalMs}");
        var node = new WorkerNodeOptions { NodeId = "token-interval-node", SpeedUp = "1" };
        node.Accelerators.Add(new AcceleratorOptions { Product = "L4", Model = Model, MaxSequences = 4 });
        await _scheduler.StartNodeAsync(node);
        await _scheduler.WaitForReadyReplicas(Model);
    }

    public async Task DisposeAsync() => await _scheduler.DisposeAsync();

    [Fact]
    public async Task StreamJob_WithATokenInterval_TokensComeMergedAtMostOncePerInterval_EveryOneOnceInOrder()
    {
        var batchesCounted = 0L;
        using var batches = CountBatches("token-interval-tenant", n => Interlocked.Add(ref batchesCounted, n));
        using var client = new SchedulerClient(_scheduler.Address, TenantKey);
        var request = new SubmitJobRequest { Model = Model, MaxTokens = 80 };
        request.PromptTokenIds.AddRange(Enumerable.Range(1, 128));
        var clock = new Stopwatch();
        var firstTokenAt = TimeSpan.Zero;

        clock.Start();
        var result = await client.RunAsync(request, onTokens: _ => firstTokenAt = firstTokenAt == TimeSpan.Zero ? clock.Elapsed : firstTokenAt, deadline: DateTime.UtcNow + Timeout);
        var streamed = clock.Elapsed - firstTokenAt;

        Assert.True(result.Succeeded, $"{result.Status} {result.Error}");
        var chunks = result.Events.Where(e => e.EventCase == JobEvent.EventOneofCase.Tokens).Select(e => e.Tokens).ToList();
        Assert.Equal(Enumerable.Range(0, 80), chunks.SelectMany(c => Enumerable.Range(c.FirstTokenIndex, c.TokenCount)));
        Assert.Equal(80, result.Usage?.CompletionTokens);
        Assert.Equal(0, chunks[0].FirstTokenIndex);

        // The engine makes a token every step, tens of milliseconds apart: without the interval about one message each.
        // With it, the messages after the first are an interval apart, but for the end's, which is sent at once.
        var mostMessages = 2 + (int)Math.Ceiling(streamed.TotalMilliseconds / IntervalMs);
        Assert.True(
            chunks.Count <= mostMessages,
            $"{chunks.Count} messages for 80 tokens over {streamed.TotalMilliseconds:0} ms after the first; at most {mostMessages} with a {IntervalMs} ms interval");
        Assert.True(chunks.Count >= 2, "every token after the first came in one message: the job was not streamed");

        // The silo's counter of token batches streamed (scheduler_stream_token_batches_total) saw each message.
        Assert.Equal(chunks.Count, Interlocked.Read(ref batchesCounted));
    }

    /// <summary>Listens to the silos' <c>scheduler.stream.token_batches</c> counter for <paramref name="tenant"/> (a tenant
    /// of this test alone: the test host's other silos count theirs too).</summary>
    private static MeterListener CountBatches(string tenant, Action<long> add)
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Name == "scheduler.stream.token_batches")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "scheduler.tenant" && Equals(tag.Value, tenant))
                {
                    add(value);
                }
            }
        });
        listener.Start();
        return listener;
    }
}
