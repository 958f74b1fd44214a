using Scheduler.Abstractions.Jobs;
using Scheduler.Policies;
using Scheduler.Policies.Dispatch;
using Scheduler.Policies.Placement;

namespace Scheduler.Grains.Placement;

/// <summary>
/// Why a model's admission rounds left jobs queued, kept once per model instead of once per queued job: each round
/// costs O(1) here (a round with the same verdict as the one before only counts), and a job's waiting lines are
/// derived when it leaves the queue or is explained, from the verdicts since it was queued (<see cref="WaitMark"/>).
/// A verdict says what stopped the round — nothing fit (no free slot, or no KV room where one was free) or the
/// policy held a job — and each waiting job reads its own reason from it: the held job itself, a job of a lower class,
/// another tenant's, or its own tenant's later job. The ring keeps <see cref="Capacity"/> verdicts; a job that waited
/// through more is told that its earliest rounds are not kept.
/// </summary>
internal sealed class WaitLog
{
    public const int Capacity = 512;

    private readonly Verdict[] _ring = new Verdict[Capacity];

    // Sequence number of the next verdict; verdict n lives at n % Capacity.
    private long _next;

    /// <summary>Where a job queued at <paramref name="queuedAt"/> (now) starts reading: the current verdict and how many
    /// rounds it had counted.</summary>
    public WaitMark Mark(DateTimeOffset queuedAt) =>
        _next == 0 ? new WaitMark(0, 0, queuedAt) : new WaitMark(_next - 1, _ring[(_next - 1) % Capacity].Count, queuedAt);

    /// <summary>Records a round that left jobs queued, and the replica set aside for the job next in line, if any
    /// (<see cref="Dispatcher.SetAside"/>).</summary>
    public void Record(RoundStop stop, JobDemand? held, DateTimeOffset now, (ReplicaView Replica, JobDemand Job)? setAside = null)
    {
        if (stop.Reason == RoundStopReason.QueueEmpty)
        {
            return;
        }

        var slotFree = stop.MaxFreeKvTokens != long.MinValue;
        if (_next > 0)
        {
            ref var last = ref _ring[(_next - 1) % Capacity];
            if (last.Reason == stop.Reason && last.SlotFree == slotFree && last.Held?.JobId == held?.JobId
                && last.SetAsideFor?.JobId == setAside?.Job.JobId && last.SetAsideReplica == setAside?.Replica.ReplicaId)
            {
                last.Count++;
                last.LastAt = now;
                last.MaxFreeKv = stop.MaxFreeKvTokens;
                return;
            }
        }

        _ring[_next % Capacity] = new Verdict
        {
            Reason = stop.Reason, SlotFree = slotFree, MaxFreeKv = stop.MaxFreeKvTokens, Held = held, FirstAt = now, LastAt = now, Count = 1,
            SetAsideFor = setAside?.Job, SetAsideReplica = setAside?.Replica.ReplicaId, SetAsideFreeKv = setAside?.Replica.FreeKvTokens ?? 0,
        };
        _next++;
    }

    /// <summary>Appends <paramref name="job"/>'s waiting lines since <paramref name="from"/> to <paramref name="trace"/>.</summary>
    public void AppendWaits(JobDemand job, WaitMark from, JobTrace trace)
    {
        var first = from.Seq;
        var skipCount = from.CountBefore;
        if (first < _next - Capacity)
        {
            trace.Add(new JobTraceEvent(JobTraceKind.Waiting, Latest(_ring[(_next - Capacity) % Capacity].FirstAt, from.QueuedAt),
                "passed over in earlier rounds whose verdicts are no longer kept", WaitReason.RoundsNotKept, Count: 0));
            first = _next - Capacity;
            skipCount = 0;
        }

        for (var seq = first; seq < _next; seq++)
        {
            var v = _ring[seq % Capacity];
            var count = v.Count - (seq == from.Seq ? skipCount : 0);
            if (count <= 0)
            {
                continue;
            }

            // A run of rounds with one verdict can have begun before this job was queued (its first rounds are not
            // counted for it): its line starts when the job was queued, never before (explain printed "+-200.083s").
            var (reason, detail) = ReasonFor(job, v);
            trace.Add(new JobTraceEvent(JobTraceKind.Waiting, Latest(v.FirstAt, from.QueuedAt), detail, reason, v.LastAt, count));
        }
    }

    private static DateTimeOffset Latest(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private static (WaitReason, string) ReasonFor(JobDemand job, Verdict v) => v switch
    {
        { SetAsideFor: { } holder } when holder.JobId == job.JobId =>
            (WaitReason.ReplicaSetAsideForIt, $"needs {job.KvTokens} KV tokens and no replica had them free: replica {v.SetAsideReplica} is set aside for it (no other job is admitted there) until its running sequences free them ({v.SetAsideFreeKv} free)"),
        { SetAsideFor: { } holder } when holder.Priority < job.Priority && v.Reason != RoundStopReason.PolicyHeld =>
            (WaitReason.ReplicaSetAsideForHigherClass, $"replica {v.SetAsideReplica} is set aside for a {holder.Priority.ToString().ToLowerInvariant()} job ({holder.JobId}) that had room nowhere, and no other open replica had room for it"),
        { SetAsideFor: { } holder } when holder.Priority == job.Priority && v.Reason != RoundStopReason.PolicyHeld =>
            (WaitReason.ReplicaSetAsideForLongerWaitingJob, $"replica {v.SetAsideReplica} is set aside for a job of its class ({holder.JobId}) that had room nowhere for longer than Scheduling:SetAsideWithinClassAfter, and no other open replica had room for it"),
        _ => ReasonFor(job, v.Reason, v),
    };

    private static (WaitReason, string) ReasonFor(JobDemand job, RoundStopReason reason, Verdict v) => reason switch
    {
        RoundStopReason.NoReplicas => (WaitReason.NoReplicas, "the model had no replica"),
        RoundStopReason.NoneSchedulable => (WaitReason.NoSchedulableReplica, "every replica of the model was cordoned, draining, or on a node lost or not connected (schedctl accelerators)"),
        RoundStopReason.NothingFits when !v.SlotFree => (WaitReason.NoSlot, "no open replica had a free sequence slot"),
        RoundStopReason.NothingFits or RoundStopReason.PolicyHeld when v.Held is null || (v.Held.JobId != job.JobId && v.Held.Priority > job.Priority) =>
            (WaitReason.NoKvRoom, $"needs {job.KvTokens} KV tokens; the most free on a replica with a free slot was {Math.Max(0, v.MaxFreeKv)}"),
        _ when v.Held!.JobId == job.JobId =>
            (WaitReason.HeldNoReplicaMeetsObjective, $"no replica was predicted to meet its {job.TtftObjectiveMs:0} ms TTFT objective, and the fastest was saturated with prefill"),
        _ when v.Held.Priority < job.Priority =>
            (WaitReason.LowerPriorityClass, $"a {v.Held.Priority.ToString().ToLowerInvariant()} job ({v.Held.JobId}) was held ahead of it"),
        _ when v.Held.TenantId != job.TenantId =>
            (WaitReason.TenantOverShare, $"tenant '{v.Held.TenantId}' had received less than its share and went first ({v.Held.JobId} was held)"),
        _ => (WaitReason.BehindOwnTenantsJobs, $"an earlier job of its tenant ({v.Held.JobId}) was held ahead of it"),
    };

    private struct Verdict
    {
        public RoundStopReason Reason;
        public bool SlotFree;
        public long MaxFreeKv;
        public JobDemand? Held;
        public JobDemand? SetAsideFor;
        public string? SetAsideReplica;
        public long SetAsideFreeKv;
        public DateTimeOffset FirstAt;
        public DateTimeOffset LastAt;
        public int Count;
    }
}

/// <summary>A position in a <see cref="WaitLog"/>: verdict <paramref name="Seq"/>, of whose rounds the first
/// <paramref name="CountBefore"/> happened before the job was queued at <paramref name="QueuedAt"/>.</summary>
internal readonly record struct WaitMark(long Seq, int CountBefore, DateTimeOffset QueuedAt);
