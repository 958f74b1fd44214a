using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Placement;
using Scheduler.Policies;
using Scheduler.Policies.Placement;
using Scheduler.Policies.Prefix;

namespace Scheduler.Grains.Placement;

/// <summary>A job the placement holds, queued or running, and where it runs.</summary>
internal sealed class PlacedJob(JobTicket ticket)
{
    public JobTicket Ticket { get; private set; } = ticket;

    /// <summary>What the job still needs: a resumed job prefills its delivered tokens and generates the rest.</summary>
    public JobDemand Demand { get; private set; } = ToDemand(ticket, 0);

    /// <summary>Where it was admitted last (its record shows it while a replica has it, and once it ended); null until its
    /// first admission.</summary>
    public JobPlacement? Placement { get; set; }

    /// <summary>The replica running it; null while it is queued.</summary>
    public ReplicaView? RunningOn { get; set; }

    /// <summary>The replica told to stop it to make room for another job (preemption), until the replica hands it back
    /// (or reports it finished, when the stop came too late); null otherwise.</summary>
    public ReplicaView? PreemptedFrom { get; private set; }

    /// <summary>How many times it was preempted (not journaled: a rebuilt placement counts from 0).</summary>
    public int Preemptions { get; private set; }

    /// <summary>Whether its cancellation arrived while it ran or was being preempted: its node is told to stop it, and
    /// handed back meanwhile it ends instead of resuming.</summary>
    public bool CancelRequested { get; set; }

    /// <summary>Whether its trace tells already that it waited for its session's replica (told once).</summary>
    public bool WaitedForSessionReplica { get; set; }

    /// <summary>Whether it ever left its tenant's queue; a re-dispatch is not a second admission.</summary>
    public bool WasAdmitted { get; set; }

    /// <summary>How many times an engine failed it and handed it back; kept in its ticket, which is journaled with
    /// each, so the count survives a failover of the placement.</summary>
    public int HandBacks => Ticket.HandBacks;

    /// <summary>What the placement did with it, to explain it.</summary>
    public JobTrace Trace { get; } = new();

    /// <summary>Where its waiting lines start in the model's <see cref="WaitLog"/>: when it was last queued.</summary>
    public WaitMark WaitingSince { get; set; }
    /// <summary>When the placement first admitted it; null before. A job handed back from its ticket alone (its stream
    /// gone with its silo, where its run's times were known) carries it, so its record's queue time is its first run's
    /// (within a grain call of the node link's own time), not the rerun's.</summary>
    public DateTimeOffset? AdmittedAt { get; set; }

    /// <summary>When the placement heard of its first token, counted then in its TTFT attainment; null before. Handed
    /// back like <see cref="AdmittedAt"/>, so its record's TTFT is when its client had its first token.</summary>
    public DateTimeOffset? FirstTokenAt { get; set; }

    /// <summary>A silo's hub watches once however many of its streams follow the job: thousands of WatchJob calls
    /// on one job must not grow the ticket (copied into every admission) or multiply every event sent.</summary>
    public void AddWatcher(IJobEventSink sink)
    {
        if (!Ticket.Watchers.Contains(sink))
        {
            Ticket = Ticket with { Watchers = [.. Ticket.Watchers, sink] };
        }
    }

    /// <summary>Counts one more hand-back by a failing engine, with its reason; returns the count.</summary>
    public int CountHandBack(string error)
    {
        Ticket = Ticket with { HandBacks = Ticket.HandBacks + 1, LastHandBackError = error };
        return Ticket.HandBacks;
    }

    /// <summary>Counts one more return to its queue from a replica, with where from and why (its record shows them).</summary>
    public void CountRequeue(string fromWhereAndWhy) =>
        Ticket = Ticket with { Requeues = Ticket.Requeues + 1, LastRequeue = fromWhereAndWhy };

    /// <summary>Its replica was told to stop it for another job: it no longer holds room there.</summary>
    public void Preempt()
    {
        PreemptedFrom = RunningOn;
        RunningOn = null;
        Preemptions++;
        Demand = ToDemand(Ticket, Preemptions);
    }

    /// <summary>Prepares a re-dispatch that resumes after the tokens <paramref name="seq"/> delivered, keeping when the
    /// job was first admitted and first delivered a token.</summary>
    public void ResumeAt(RequeuedSequence seq)
    {
        if (seq.DeliveredTokens > Ticket.ResumeFromToken)
        {
            Ticket = Ticket with { ResumeFromToken = seq.DeliveredTokens, Delivered = seq.Output };
        }

        if ((Ticket.FirstAdmittedAt is null && seq.FirstAdmittedAt is not null) || (Ticket.FirstTokenAt is null && seq.FirstTokenAt is not null))
        {
            Ticket = Ticket with { FirstAdmittedAt = Ticket.FirstAdmittedAt ?? seq.FirstAdmittedAt, FirstTokenAt = Ticket.FirstTokenAt ?? seq.FirstTokenAt };
        }

        Demand = ToDemand(Ticket, Preemptions);
        RunningOn = null;
        PreemptedFrom = null;
    }

    // The prompt is cut into blocks as the engine cuts it, so the replicas' prefix indexes match the engines' caches.
    private static JobDemand ToDemand(JobTicket t, int preemptions) => new(
        t.JobId, t.TenantId, t.Request.PromptTokens + t.ResumeFromToken, t.Request.MaxTokens - t.ResumeFromToken,
        t.Request.Priority, t.Request.TtftObjectiveMs, t.SubmittedAt, t.Request.Deadline,
        t.Request.PromptTokenIds is { Length: > 0 } ids ? PromptBlocks.FromTokenIds(ids) : PromptBlocks.FromText(t.Request.Prompt),
        t.Request.SessionId,
        preemptions,
        t.Request.PromptForms);
}
