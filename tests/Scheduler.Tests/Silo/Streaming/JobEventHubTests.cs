using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Scheduler.Abstractions.Jobs;
using Scheduler.Silo.Streaming;
using Scheduler.Tests.EndToEnd;
using Scheduler.Tests.Silo.Nodes;
using static Scheduler.Tests.Silo.Streaming.SubscriptionEvents;

namespace Scheduler.Tests.Silo.Streaming;

/// <summary>The hub of a real in-process silo: how a node link's events reach the streams.</summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed class JobEventHubTests(SchedulerCluster cluster)
{
    private JobEventHub Hub => cluster.SiloServices.GetRequiredService<JobEventHub>();

    [Fact]
    public void Deliver_ToThisSilosOwnSink_ReachesTheStreamBeforeItReturns()
    {
        var jobId = "hub-local-" + Guid.NewGuid().ToString("N");
        var subscription = Hub.Subscribe(jobId, fromToken: 0);
        try
        {
            Hub.Deliver(Hub.Reference, [new JobEventRecord(jobId, JobEventKind.Queued, T0, QueuePosition: 3)]);

            // No Orleans message in between: the event is in the stream's channel already.
            Assert.True(subscription.Events.TryRead(out var e));
            Assert.Equal((JobEventKind.Queued, 3), (e.Kind, e.QueuePosition));
        }
        finally
        {
            Hub.Unsubscribe(subscription);
        }
    }

    [Fact]
    public void Deliver_BeforeTheHubMadeItsReference_SendsToTheSink_WithoutMakingOne()
    {
        // Orleans refuses to make an object reference inside a grain's turn, where Deliver runs when a placement admits:
        // the factory here refuses every call, as it would there.
        var hub = new JobEventHub(DispatchProxy.Create<IGrainFactory, RefusingGrainFactory>());
        var sink = new RecordingEventSink();

        hub.Deliver(sink, [new JobEventRecord("job", JobEventKind.Queued, T0, QueuePosition: 1)]);

        Assert.Equal("job", Assert.Single(sink.Events).JobId);
    }

    [Fact]
    public async Task Deliver_ToAnotherSilosSink_SendsItThereAndNotToThisSilosStreams()
    {
        var jobId = "hub-remote-" + Guid.NewGuid().ToString("N");
        var subscription = Hub.Subscribe(jobId, fromToken: 0);
        var elsewhere = new RecordingEventSink();
        var grains = cluster.SiloServices.GetRequiredService<IGrainFactory>();
        var reference = grains.CreateObjectReference<IJobEventSink>(elsewhere);
        try
        {
            Hub.Deliver(reference, [new JobEventRecord(jobId, JobEventKind.Queued, T0, QueuePosition: 1)]);

            await Polling.Until(() => elsewhere.Calls.Count == 1, "the event at the other sink", TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(10));
            Assert.Equal(jobId, Assert.Single(elsewhere.Events).JobId);
            Assert.False(subscription.Events.TryRead(out _));
        }
        finally
        {
            Hub.Unsubscribe(subscription);
            grains.DeleteObjectReference<IJobEventSink>(reference);
        }
    }

    /// <summary>A grain factory that refuses every call, as Orleans' refuses an object reference inside a grain turn.</summary>
    public class RefusingGrainFactory : DispatchProxy
    {
        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
            throw new InvalidOperationException("Cannot create a local object reference from a grain.");
    }
}
