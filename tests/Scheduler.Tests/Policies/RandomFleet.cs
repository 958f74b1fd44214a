using Scheduler.Policies;
using Scheduler.Policies.Placement;
using Scheduler.Policies.Prefix;
using Scheduler.Policies.Profiles;

namespace Scheduler.Tests.Policies;

/// <summary>
/// Seeded random fleets and jobs for property tests. Few slots and tight KV make full and KV-bound replicas common;
/// few distinct shapes and job sizes make alike replicas and equal predictions (ties) common.
/// </summary>
internal static class RandomFleet
{
    private static readonly AcceleratorProfile[] s_profiles = [.. AcceleratorProfiles.All.Values.OrderBy(p => p.Product, StringComparer.Ordinal)];
    private static readonly int[] s_prompts = [100, 400, 1_500, 3_000];
    private static readonly int[] s_maxTokens = [50, 200, 1_000];
    private static readonly double[] s_objectivesMs = [20, 100, 500, 5_000];

    public static ReplicaView Replica(Random random, string id) =>
        new(id, "node-" + id, "acc-" + id, s_profiles[random.Next(s_profiles.Length)], random.Next(1, 6), random.Next(2) == 0 ? 4_000 : 12_000);

    public static ReplicaView[] Replicas(Random random, int count) => [.. Enumerable.Range(0, count).Select(i => Replica(random, $"r{i}"))];

    public static JobDemand Job(Random random, string id) => new(
        id,
        $"t{random.Next(3)}",
        s_prompts[random.Next(s_prompts.Length)],
        s_maxTokens[random.Next(s_maxTokens.Length)],
        JobPriority.Standard,
        s_objectivesMs[random.Next(s_objectivesMs.Length)],
        PolicyFixtures.T0);

    /// <summary>A job whose prompt is the first 1 to 6 of one of 4 sessions' 512-token blocks, plus up to a block's worth
    /// of its own: replicas come to hold prefixes of each other's prompts, longer and shorter.</summary>
    public static JobDemand PrefixedJob(Random random, string id)
    {
        var session = random.Next(4);
        var blocks = random.Next(1, 7);
        return Job(random, id) with
        {
            PromptTokens = (blocks * PromptBlocks.TraceBlockTokens) + random.Next(0, 512),
            Blocks = PromptBlocks.FromBlockIds([.. Enumerable.Range(0, blocks).Select(b => (long)((session * 100) + b))]),
        };
    }

    /// <summary>A <see cref="PrefixedJob"/> that is, one time in two, a turn of a session (which cost-aware placement charges
    /// by how packed each replica's batch would be, <see cref="ReplicaPrediction.SessionLossCostUsd"/>).</summary>
    public static JobDemand SessionJob(Random random, string id) =>
        PrefixedJob(random, id) with { SessionId = random.Next(2) == 0 ? null : "chat" };
}
