using Scheduler.Abstractions.Jobs;
using Scheduler.Policies;
using Scheduler.Policies.Placement;

namespace Scheduler.Grains.Placement;

/// <summary>Turns what a placement policy weighed for an admitted job into the line that explains it: one candidate
/// per class of alike replicas (product and slots; the class's earliest predicted first token, or the chosen replica
/// in the chosen class) and why the chosen one won.</summary>
internal static class AdmissionExplanation
{
    public static JobTraceEvent Admitted(DateTimeOffset at, JobDemand job, JobPlacement placement, ReplicaView chosen, IReadOnlyList<WeighedReplica>? weighed, string policy)
    {
        var classes = new Dictionary<(string Product, int Slots), (WeighedReplica Best, int Count, bool Chosen)>();
        WeighedReplica? chosenPrediction = null;
        var anyMet = false;
        foreach (var w in weighed ?? [])
        {
            var key = (w.Replica.Profile.Product, w.Replica.MaxSequences);
            var isChosen = w.Replica == chosen;
            anyMet |= w.MeetsObjective;
            if (isChosen)
            {
                chosenPrediction = w;
            }

            classes[key] = classes.TryGetValue(key, out var c)
                ? (c.Chosen ? c.Best : isChosen || w.PredictedTtftMs < c.Best.PredictedTtftMs ? w : c.Best, c.Count + 1, c.Chosen || isChosen)
                : (w, 1, isChosen);
        }

        var candidates = classes
            .Select(c => new WeighedClass(c.Key.Product, c.Key.Slots, c.Value.Best.RunningSequences, c.Value.Best.PredictedTtftMs,
                c.Value.Best.PredictedCostUsd, c.Value.Best.MeetsObjective, c.Value.Chosen, c.Value.Count))
            .OrderByDescending(c => c.Chosen).ThenBy(c => c.PredictedCostUsd)
            .ToArray();
        return new JobTraceEvent(JobTraceKind.Admitted, at, Why(job, chosenPrediction, anyMet, classes.Count, policy),
            Placement: placement, Candidates: candidates);
    }

    private static string Why(JobDemand job, WeighedReplica? chosen, bool anyMet, int classes, string policy) => chosen switch
    {
        null => $"chosen by the {policy} policy",
        { MeetsObjective: true } c when policy == SchedulingPolicies.DefaultPlacement =>
            $"cheapest predicted cost, its wait priced in (${c.PredictedCostUsd:0.######}), among {Counted.Of(classes, "class", "classes")} weighed that meet the {job.TtftObjectiveMs:0} ms TTFT objective (predicted {c.PredictedTtftMs:0} ms)",
        { } c when policy == SchedulingPolicies.DefaultPlacement && !anyMet =>
            $"no replica was predicted to meet the {job.TtftObjectiveMs:0} ms TTFT objective: the earliest predicted first token ({c.PredictedTtftMs:0} ms)",
        { } c => $"chosen by the {policy} policy (predicted first token {c.PredictedTtftMs:0} ms, cost ${c.PredictedCostUsd:0.######}, objective {(c.MeetsObjective ? "met" : "missed")})",
    };
}
