using System.Diagnostics;
using System.Text;
using Scheduler.Policies;
using Scheduler.Policies.Dispatch;
using Scheduler.Policies.Placement;

/// <summary>
/// What each measured round did (<c>--cases</c>), counted after it ran, outside the timed part, so the slow decisions can
/// be told apart from the fast ones by their work: the prompt's blocks, the replicas listed as holding its first block,
/// those of them with room, those visited and the blocks they matched, the class representatives visited, the blocks the
/// chosen replica held, stored and evicted, and the collections, page faults and context switches during the round. The counts read the fleet after the
/// admission (the chosen replica's room and index have changed; its own held, stored and evicted blocks are exact,
/// from what it reported before and after).
/// </summary>
internal sealed class CaseLog(Dispatcher dispatcher, int measured)
{
    private readonly Dictionary<ReplicaView, (long Pending, int Blocks)> _known = [];
    private readonly Case[] _cases = new Case[measured];
    private readonly List<ReplicaView> _candidates = [];

    /// <summary>The last <see cref="Choose"/>'s time, in stopwatch ticks.</summary>
    public long ChoiceTicks { get; set; }

    /// <summary>The policy's choice alone, as the dispatcher makes it (the job has no session).</summary>
    public ReplicaView? Choose(JobDemand job)
    {
        if (dispatcher.Placement is IIndexedPlacementPolicy indexed)
        {
            return indexed.Choose(job, dispatcher.Replicas);
        }

        dispatcher.Replicas.CollectCandidates(job, _candidates);
        return dispatcher.Placement.Choose(job, _candidates);
    }

    /// <summary>Remembers what <paramref name="replica"/> reports now; call after every change to it.</summary>
    public void Refresh(ReplicaView? replica)
    {
        if (replica is not null)
        {
            _known[replica] = (replica.PendingPrefillTokens, replica.CachedBlocks);
        }
    }

    public void Record(int round, JobDemand job, ReplicaView chosen, long ticks, bool choiceAlone, int collections, long faults, long switches)
    {
        var set = dispatcher.Replicas;
        var (pendingBefore, blocksBefore) = _known.GetValueOrDefault(chosen, (chosen.PendingPrefillTokens, chosen.CachedBlocks));
        var blocks = job.Blocks?.Count ?? 0;
        var blockTokens = job.Blocks?.BlockTokens ?? 1;
        var cached = job.PromptTokens - (chosen.PendingPrefillTokens - pendingBefore);
        var held = blocks == 0 ? 0 : (int)((cached + blockTokens - 1) / blockTokens); // cached tokens are clamped to the prompt less one
        var stored = blocks - held;
        var listed = job.Blocks is { } prompt ? set.PrefixHolders.Of(prompt.Root)?.Count ?? 0 : 0;
        if (blocks > 0 && held == 0)
        {
            listed--; // listed by this admission
        }

        var withRoom = 0;
        if (job.Blocks is { } rooted && set.PrefixHolders.Of(rooted.Root) is { } holders)
        {
            foreach (var holder in holders)
            {
                withRoom += set.TakesJob(holder, job) ? 1 : 0;
            }
        }

        var visited = set.PrefixHoldersOf(job);
        var matched = 0;
        foreach (var holder in visited)
        {
            matched += (holder.CachedTokens + blockTokens - 1) / blockTokens;
        }

        var representatives = new Counter();
        set.VisitRepresentatives(job, ref representatives);
        _cases[round] = new Case(
            ticks * 1_000_000.0 / Stopwatch.Frequency, choiceAlone, blocks, listed, withRoom, visited.Length, matched,
            representatives.Visited, held, stored, blocksBefore + stored - chosen.CachedBlocks, collections, (int)faults, (int)switches);
    }

    /// <summary>Per kind of timing (whole round, choice alone): the work of the decisions in each band of time, and the
    /// time of the decisions in each case.</summary>
    public string Report(string policy)
    {
        var text = new StringBuilder();
        text.AppendLine($"cases, {policy}: mean work per decision in each band of its time");
        text.AppendLine("| timed | band | decisions | µs (mean) | prompt blocks | listed holders | holders with room | holders visited | blocks they matched | representatives | chosen held | stored | evicted | gen0 GCs | page faults | context switches |");
        text.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var choiceAlone in new[] { false, true })
        {
            var sorted = _cases.Where(c => c.ChoiceAlone == choiceAlone).OrderBy(c => c.Microseconds).ToArray();
            foreach (var (from, to) in new[] { (0.0, 0.5), (0.5, 0.9), (0.9, 0.99), (0.99, 1.0) })
            {
                var band = sorted[(int)(sorted.Length * from)..(int)(sorted.Length * to)];
                text.AppendLine($"| {(choiceAlone ? "choice alone" : "whole round")} | p{from * 100:0}–p{to * 100:0} | {band.Length} | {band.Average(c => c.Microseconds):0.0} | {band.Average(c => c.Blocks):0.0} | {band.Average(c => c.Listed):0.0} | {band.Average(c => c.WithRoom):0.0} | {band.Average(c => c.Visited):0.0} | {band.Average(c => c.Matched):0.0} | {band.Average(c => c.Representatives):0.0} | {band.Average(c => c.Held):0.0} | {band.Average(c => c.Stored):0.0} | {band.Average(c => c.Evicted):0.0} | {band.Average(c => c.Collections):0.000} | {band.Average(c => c.Faults):0.00} | {band.Average(c => c.Switches):0.00} |");
            }
        }

        text.AppendLine();
        text.AppendLine($"cases, {policy}: time per decision in each case");
        text.AppendLine("| timed | case | decisions | share | µs p50 | p90 | p99 |");
        text.AppendLine("|---|---|---:|---:|---:|---:|---:|");
        (string Name, Func<Case, bool> Is)[] splits =
        [
            ("all", _ => true),
            ("chosen held none of the prompt", c => c.Blocks > 0 && c.Held == 0),
            ("chosen held some", c => c.Held > 0),
            ("stored ≥ 16 blocks", c => c.Stored >= 16),
            ("evicted ≥ 32 blocks", c => c.Evicted >= 32),
            ("evicted < 8 blocks", c => c.Evicted < 8),
            ("prompt ≥ 24 blocks", c => c.Blocks >= 24),
            ("prompt < 8 blocks", c => c.Blocks < 8),
            ("32 holders visited", c => c.Visited == ReplicaSet.MaxPrefixHoldersVisited),
            ("< 32 holders visited", c => c.Visited < ReplicaSet.MaxPrefixHoldersVisited),
            ("a gen0 GC", c => c.Collections > 0),
            ("a page fault", c => c.Faults > 0),
            ("a context switch", c => c.Switches > 0),
            ("neither, nor a GC", c => c.Faults == 0 && c.Switches == 0 && c.Collections == 0),
        ];
        foreach (var choiceAlone in new[] { false, true })
        {
            var kind = _cases.Where(c => c.ChoiceAlone == choiceAlone).ToArray();
            foreach (var (name, isCase) in splits)
            {
                var times = kind.Where(isCase).Select(c => c.Microseconds).Order().ToArray();
                if (times.Length > 0)
                {
                    text.AppendLine($"| {(choiceAlone ? "choice alone" : "whole round")} | {name} | {times.Length} | {times.Length * 100.0 / kind.Length:0.0}% | {times[times.Length / 2]:0.00} | {times[(int)(times.Length * 0.9)]:0.0} | {times[(int)(times.Length * 0.99)]:0.0} |");
                }
            }
        }

        return text.ToString();
    }

    private readonly record struct Case(
        double Microseconds, bool ChoiceAlone, int Blocks, int Listed, int WithRoom, int Visited, int Matched,
        int Representatives, int Held, int Stored, int Evicted, int Collections, int Faults, int Switches);

    private struct Counter : IReplicaVisitor
    {
        public int Visited { get; private set; }

        public bool Visit(ReplicaEntry entry)
        {
            Visited++;
            return true;
        }

        // Counts every representative the index holds: what a search that skips nothing would visit.
        public readonly bool SkipsFrom(ReplicaClass replicaClass, int running) => false;
    }
}
