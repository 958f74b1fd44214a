using System.Collections.Concurrent;
using Scheduler.Abstractions.Jobs;

namespace Scheduler.Silo.Streaming;

/// <summary>
/// This silo's <see cref="IJobEventSink"/>: receives the events of the jobs whose client streams this silo holds
/// and hands each to the streams watching that job. One grain-observer reference serves all of them.
/// </summary>
internal sealed class JobEventHub(IGrainFactory grains) : IJobEventSink
{
    private readonly ConcurrentDictionary<string, List<JobSubscription>> _byJob = new(StringComparer.Ordinal);
    private IJobEventSink? _reference;

    /// <summary>The reference other grains and node links send this silo's events to.</summary>
    public IJobEventSink Reference => _reference ??= grains.CreateObjectReference<IJobEventSink>(this);

    /// <summary>How many jobs have at least one stream on this silo; back to zero when every stream ended.</summary>
    public int SubscribedJobs => _byJob.Count;

    /// <summary>Events waiting in this silo's streams for their clients to take them: what clients that do not read
    /// cost the silo.</summary>
    public int WaitingEvents => _byJob.Values.Sum(WaitingIn);

    public JobSubscription Subscribe(string jobId, int fromToken)
    {
        var subscription = new JobSubscription(jobId, fromToken);
        while (true)
        {
            var list = _byJob.GetOrAdd(jobId, _ => []);
            lock (list)
            {
                // The list may have just been retired by the last unsubscribe; then take the fresh one.
                if (_byJob.TryGetValue(jobId, out var current) && current == list)
                {
                    list.Add(subscription);
                    return subscription;
                }
            }
        }
    }

    public void Unsubscribe(JobSubscription subscription)
    {
        if (_byJob.TryGetValue(subscription.JobId, out var list))
        {
            lock (list)
            {
                list.Remove(subscription);
                if (list.Count == 0)
                {
                    _byJob.TryRemove(KeyValuePair.Create(subscription.JobId, list));
                }
            }
        }
    }

    public void UnsubscribeIfAny(JobSubscription? subscription)
    {
        if (subscription is not null)
        {
            Unsubscribe(subscription);
        }
    }

    /// <summary>
    /// Sends <paramref name="events"/> to <paramref name="sink"/>: straight to this hub when the sink is this silo's own,
    /// otherwise as the usual one-way call.
    /// </summary>
    /// <remarks>
    /// Why: a node link and the client streams of its jobs are usually on one silo, and a call to a local observer
    /// still goes through Orleans' messaging (a message, its dispatch, a hop to another thread) for every step; the hub
    /// only posts to its subscriptions' channels, which never blocks, so the sender may run it itself. Order is not
    /// lost: one-way calls were never ordered, and each subscription orders what it gets. A hub that never made its
    /// reference has no stream a sink could name, and must not make it here: this runs inside grain turns (a placement
    /// admitting), where Orleans refuses to create an object reference — the first node registration on a silo after
    /// another drained answered INTERNAL so (found by an SRE probe).
    /// </remarks>
    public void Deliver(IJobEventSink sink, JobEventRecord[] events)
    {
        if (_reference is not null && sink.Equals(_reference))
        {
            OnEvents(events);
        }
        else
        {
            sink.OnEvents(events).Ignore();
        }
    }

    public Task OnEvents(JobEventRecord[] events)
    {
        foreach (var e in events)
        {
            if (!_byJob.TryGetValue(e.JobId, out var list))
            {
                continue;
            }

            lock (list)
            {
                foreach (var subscription in list)
                {
                    subscription.Post(e);
                }
            }
        }

        return Task.CompletedTask;
    }

    private static int WaitingIn(List<JobSubscription> list)
    {
        lock (list)
        {
            return list.Sum(subscription => subscription.Events.Count);
        }
    }
}
