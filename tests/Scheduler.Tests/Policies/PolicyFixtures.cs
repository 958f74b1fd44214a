using Scheduler.Policies;
using Scheduler.Policies.Admission;
using Scheduler.Policies.Placement;
using Scheduler.Policies.Profiles;

namespace Scheduler.Tests.Policies;

/// <summary>Small builders shared by the policy tests: jobs and hand-built replica views.</summary>
internal static class PolicyFixtures
{
    public static readonly DateTimeOffset T0 = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static JobDemand Job(
        string id,
        string tenant = "t",
        int prompt = 500,
        int maxTokens = 200,
        JobPriority priority = JobPriority.Standard,
        double ttftObjectiveMs = 1_000) =>
        new(id, tenant, prompt, maxTokens, priority, ttftObjectiveMs, T0);

    /// <summary>A replica with the profile's own slots and KV capacity unless given.</summary>
    public static ReplicaView Replica(string id, AcceleratorProfile profile, int? maxSequences = null, long? kvCapacityTokens = null) =>
        new(id, "node-" + id, "acc-" + id, profile, maxSequences ?? profile.MaxSequences, kvCapacityTokens ?? profile.KvCapacityTokens);

    /// <summary>A metered LPU endpoint whose provider allows <paramref name="tokensPerMinute"/> prompt-plus-output tokens
    /// (60,000: 1,000 a second) and <paramref name="requestsPerMinute"/> requests a minute (0: no limit), on
    /// <paramref name="time"/>'s clock.</summary>
    public static ReplicaView Metered(string id, TimeProvider time, int tokensPerMinute = 60_000, int requestsPerMinute = 0, int? maxSequences = null) =>
        new(id, "node-" + id, "acc-" + id, AcceleratorProfiles.Lpu, maxSequences ?? AcceleratorProfiles.Lpu.MaxSequences, AcceleratorProfiles.Lpu.KvCapacityTokens,
            new UpstreamLimiter(requestsPerMinute, tokensPerMinute, time));

    /// <summary>Admits <paramref name="count"/> running sequences whose prefill is already done (pure decode load).</summary>
    public static void AddDecodingLoad(ReplicaView replica, int count, string prefix = "load")
    {
        for (var i = 0; i < count; i++)
        {
            var job = Job($"{prefix}-{replica.ReplicaId}-{i}", prompt: 100, maxTokens: 100);
            replica.Admit(job);
            replica.PrefillDone(job.JobId);
        }
    }
}
