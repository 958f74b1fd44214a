namespace Scheduler.Policies.Placement;

/// <summary>
/// Baseline: Ray Serve's default request router, power of two choices (Mitzenmacher). It samples two distinct
/// replicas at random and sends the job to the one with fewer running sequences: nearly as well balanced as
/// scanning every replica for the least loaded, but without herding every router onto the same replica when
/// their views of the load are stale. Ties go to the first sample. The random source is injected so runs
/// (tests, simulator replays) are reproducible.
/// </summary>
internal sealed class PowerOfTwoPlacement(Random random) : IPlacementPolicy
{
    public const string PolicyName = "power-of-two";

    private readonly Random _random = random ?? throw new ArgumentNullException(nameof(random));

    public string Name => PolicyName;

    public ReplicaView? Choose(JobDemand job, IReadOnlyList<ReplicaView> candidates)
    {
        switch (candidates.Count)
        {
            case 0:
                return null;
            case 1:
                return candidates[0];
        }

        // Two distinct indices, each pair equally likely: draw the second from the others.
        var first = _random.Next(candidates.Count);
        var second = _random.Next(candidates.Count - 1);
        if (second >= first)
        {
            second++;
        }

        var a = candidates[first];
        var b = candidates[second];
        return b.RunningSequences < a.RunningSequences ? b : a;
    }
}
