using Scheduler.Policies.Placement;

namespace Scheduler.Policies.Dispatch;

/// <summary>
/// Which running sequence, if any, a waiting job may stop to take its place: the engine stops it and hands it back,
/// and it is queued again at the front of its tenant's queue, resuming from the tokens it delivered (the hand-back
/// path). It enforces a tenant's share of a replica while another tenant waits: the fair queue orders admissions, but
/// once one tenant's long jobs fill the fast replicas, a waiting job of another tenant could otherwise only wait for
/// them to finish or go to a replica too slow for its objective.
/// </summary>
/// <remarks>
/// A replica's share of a tenant is its running sequences × the tenant's weight ÷ the weights of the tenants running
/// there and the waiting one's. A waiting job may stop a sequence only where it is then predicted to meet its TTFT
/// objective, and only a sequence that is
/// <list type="bullet">
/// <item>sheddable, for a job of a higher class; or</item>
/// <item>of a tenant over its share there, for a job whose tenant is under its share there (or a critical job), the
/// victim not of a higher class than the job.</item>
/// </list>
/// Never on a replica set aside for another job (<see cref="ReplicaView.SetAsideFor"/>): its room is that job's.
/// No thrash: the victim's tenant keeps at least its share after losing the sequence and the waiting tenant gains at
/// most up to its share, so the victim's tenant is never under its share there; a sequence is stopped at most
/// <c>maxPreemptions</c> times, and never in the round that admitted it. The dispatcher asks only for a job the fair
/// queue would serve next anyway (<c>IFairQueue.IsNextInLine</c>), so preemption changes when a job is served, not
/// the order between tenants. Among the candidates: sheddable first, then the tenant furthest over its share, then a
/// sequence still prefilling (it delivered nothing), then the latest admitted (least progress lost), then the replica
/// where the job's first token comes soonest.
/// <para>
/// A stop for a share is priced: the victim gives up its slot and its replica's room for its context, and resumes by
/// recomputing its prompt — a prefill that takes the step from every sequence of its batch. On a fleet saturated
/// with long contexts (many tenants, each at about its share) that loss is repaid by nobody, so an over-share
/// sequence is stopped only when its tenant has more work waiting (jobs in the fair queue, or, for a sequence still
/// prefilling, another of its prompts pending on that replica: what a flood looks like), or when its recompute is
/// cheap — its prompt's prefill on that replica, times the sequences it delays there, within the time the waiting
/// job can spare before its objective. And the waiting job takes a slot only on a replica holding the longest
/// cached prefix of its prompt any schedulable replica holds, so a stop never makes it recompute context the fleet
/// has cached.
/// </para>
/// </remarks>
internal static class Preemption
{
    /// <summary>The sequence <paramref name="waiting"/> may stop and the replica it then takes, or null when no stop
    /// would help it or none is allowed.</summary>
    /// <param name="waiting">The job that finds no room where it meets its objective.</param>
    /// <param name="replicas">The model's replicas.</param>
    /// <param name="weightOf">A tenant's weight in the fair queue.</param>
    /// <param name="queuedOf">A tenant's jobs waiting in the fair queue.</param>
    /// <param name="maxPreemptions">How often one job may be stopped.</param>
    /// <param name="admittedThisRound">Jobs admitted in the round asking: never stopped in the round that admitted them.</param>
    public static (ReplicaView Replica, JobDemand Victim)? PickVictim(
        JobDemand waiting, ReplicaSet replicas, Func<string, double> weightOf, Func<string, int> queuedOf, int maxPreemptions,
        IReadOnlySet<string>? admittedThisRound = null)
    {
        (ReplicaView Replica, JobDemand Victim)? best = null;
        var bestScore = default(Score);
        var longestCached = LongestCachedPrefix(waiting, replicas);
        foreach (var replica in replicas.Values)
        {
            if (!replica.Schedulable || replica.RunningSequences == 0 || !replica.CanEverHold(waiting)
                || (replica.SetAsideFor is { } setAsideFor && setAsideFor != waiting.JobId))
            {
                continue;
            }

            var cached = replica.CachedPromptTokens(waiting);
            if (cached < longestCached)
            {
                continue;
            }

            // One sequence leaves and the job joins: the batch keeps its size.
            var ttft = ReplicaPrediction.TtftMs(replica.Profile, replica.RunningSequences - 1, replicas.PrefillAhead(waiting, replica), waiting.PromptTokens - cached);
            if (ttft > waiting.TtftObjectiveMs)
            {
                continue;
            }

            var shares = new Shares(replica, waiting.TenantId, weightOf);
            var waitingUnder = replica.RunningOf(waiting.TenantId) + 1 <= shares.Of(waiting.TenantId);
            foreach (var running in replica.Reservations)
            {
                var victim = running.Job;
                if (victim.Preemptions >= maxPreemptions || replica.FreeKvTokens + victim.KvTokens < waiting.KvTokens
                    || admittedThisRound?.Contains(victim.JobId) == true)
                {
                    continue;
                }

                var byClass = victim.Priority == JobPriority.Sheddable && waiting.Priority < JobPriority.Sheddable;
                var excess = replica.RunningOf(victim.TenantId) - shares.Of(victim.TenantId);
                var byShare = victim.TenantId != waiting.TenantId && victim.Priority >= waiting.Priority && excess >= 1
                    && (waitingUnder || (waiting.Priority == JobPriority.Critical && victim.Priority != JobPriority.Critical));
                if (!byClass && (!byShare || !WorthStopping(running, replica, queuedOf, waiting.TtftObjectiveMs - ttft)))
                {
                    continue;
                }

                var score = new Score(byClass, excess, !running.Prefilled, running.Order, -ttft);
                if (best is null || score.CompareTo(bestScore) > 0)
                {
                    best = (replica, victim);
                    bestScore = score;
                }
            }
        }

        return best;
    }

    // A stop for a share pays the victim's recompute: worth it for a tenant with more work waiting than it runs, or
    // when that recompute, which delays every sequence of the victim's batch, fits in the waiting job's slack.
    private static bool WorthStopping(ReplicaView.Reservation running, ReplicaView replica, Func<string, int> queuedOf, double slackMs)
    {
        var tenant = running.Job.TenantId;
        if (queuedOf(tenant) > 0 || (!running.Prefilled && HasOtherPromptPending(replica, running)))
        {
            return true;
        }

        var recomputeMs = running.Job.PromptTokens * 1000.0 / replica.Profile.PrefillTokensPerSecond;
        return recomputeMs * replica.RunningSequences <= slackMs;
    }

    private static bool HasOtherPromptPending(ReplicaView replica, ReplicaView.Reservation victim)
    {
        foreach (var other in replica.Reservations)
        {
            if (!other.Prefilled && other.Job.TenantId == victim.Job.TenantId && other.Job.JobId != victim.Job.JobId)
            {
                return true;
            }
        }

        return false;
    }

    // The most prompt tokens of the job any schedulable replica holds cached: a stop elsewhere would recompute them.
    private static int LongestCachedPrefix(JobDemand job, ReplicaSet replicas)
    {
        if (job.Blocks is null)
        {
            return 0;
        }

        var longest = 0;
        foreach (var replica in replicas.Values)
        {
            if (replica.Schedulable)
            {
                longest = Math.Max(longest, replica.CachedPromptTokens(job));
            }
        }

        return longest;
    }

    // Higher is a better victim, field by field.
    private readonly record struct Score(bool ByClass, double Excess, bool Prefilling, long Order, double NegativeTtftMs) : IComparable<Score>
    {
        public int CompareTo(Score other)
        {
            var c = ByClass.CompareTo(other.ByClass);
            c = c != 0 ? c : Excess.CompareTo(other.Excess);
            c = c != 0 ? c : Prefilling.CompareTo(other.Prefilling);
            c = c != 0 ? c : Order.CompareTo(other.Order);
            return c != 0 ? c : NegativeTtftMs.CompareTo(other.NegativeTtftMs);
        }
    }

    /// <summary>Each tenant's share of a replica's running sequences among the tenants running there and the waiting one.</summary>
    private readonly struct Shares
    {
        private readonly Func<string, double> _weightOf;
        private readonly double _sequencesPerWeight;

        public Shares(ReplicaView replica, string waitingTenant, Func<string, double> weightOf)
        {
            _weightOf = weightOf;
            var weights = replica.RunningOf(waitingTenant) > 0 ? 0 : weightOf(waitingTenant);
            foreach (var tenant in replica.Tenants)
            {
                weights += weightOf(tenant);
            }

            _sequencesPerWeight = replica.RunningSequences / weights;
        }

        public double Of(string tenantId) => _sequencesPerWeight * _weightOf(tenantId);
    }
}

/// <summary>A running job stopped on <paramref name="Replica"/> to make room for the job <paramref name="ForJobId"/>,
/// admitted there in the same round: the owner tells the engine to stop it (before the admission) and queues it again
/// once the engine handed it back with the tokens it delivered.</summary>
public readonly record struct Preempted(JobDemand Victim, ReplicaView Replica, string ForJobId);
