using Scheduler.Policies.Batching;
using Scheduler.Policies.Fairness;
using Scheduler.Policies.Placement;

namespace Scheduler.Policies;

/// <summary>Creates policies by the names configuration uses. Each placement owns fresh instances, since
/// some policies keep state (a round-robin cursor, virtual counters).</summary>
public static class SchedulingPolicies
{
    // Placement factories take the random source for the policies that sample (power-of-two) and the settings for those
    // configured beyond their name (cost-aware).
    private static readonly Dictionary<string, Func<Random, PlacementSettings, IPlacementPolicy>> s_placement = new(StringComparer.OrdinalIgnoreCase)
    {
        [CostAwarePlacement.PolicyName] = (_, settings) => new CostAwarePlacement(settings),
        [RoundRobinPlacement.PolicyName] = (_, _) => new RoundRobinPlacement(),
        [LeastOutstandingPlacement.PolicyName] = (_, _) => new LeastOutstandingPlacement(),
        [PowerOfTwoPlacement.PolicyName] = (random, _) => new PowerOfTwoPlacement(random),
        [QueueKvPlacement.PolicyName] = (_, _) => new QueueKvPlacement(),
        [PrefixOnlyPlacement.PolicyName] = (_, _) => new PrefixOnlyPlacement(),
    };

    private static readonly Dictionary<string, Func<IFairQueue>> s_fairness = new(StringComparer.OrdinalIgnoreCase)
    {
        [WeightedFairQueue.PolicyName] = () => new WeightedFairQueue(),
        [FifoQueue.PolicyName] = () => new FifoQueue(),
    };

    private static readonly Dictionary<string, Func<IBatchingPolicy>> s_batching = new(StringComparer.OrdinalIgnoreCase)
    {
        [ContinuousBatching.PolicyName] = () => new ContinuousBatching(),
        [RequestLevelBatching.PolicyName] = () => new RequestLevelBatching(),
    };

    public const string DefaultPlacement = CostAwarePlacement.PolicyName;
    public const string DefaultFairness = WeightedFairQueue.PolicyName;
    public const string DefaultBatching = ContinuousBatching.PolicyName;

    public static IReadOnlyCollection<string> PlacementNames => s_placement.Keys;
    public static IReadOnlyCollection<string> FairnessNames => s_fairness.Keys;
    public static IReadOnlyCollection<string> BatchingNames => s_batching.Keys;

    /// <summary>Creates the placement policy named <paramref name="name"/>. Policies that sample use
    /// <paramref name="random"/> (pass a seeded one for reproducible runs), else <see cref="Random.Shared"/>; configured
    /// ones read <paramref name="settings"/> (else <see cref="PlacementSettings.Default"/>).</summary>
    public static IPlacementPolicy CreatePlacement(string name, Random? random = null, PlacementSettings? settings = null) =>
        Factory(s_placement, name, "placement")(random ?? Random.Shared, settings ?? PlacementSettings.Default);

    public static IFairQueue CreateFairQueue(string name) => Factory(s_fairness, name, "fairness")();

    public static IBatchingPolicy CreateBatching(string name) => Factory(s_batching, name, "batching")();

    private static TFactory Factory<TFactory>(Dictionary<string, TFactory> factories, string name, string kind) =>
        factories.TryGetValue(name, out var factory)
            ? factory
            : throw new ArgumentException($"Unknown {kind} policy '{name}'. Known: {string.Join(", ", factories.Keys)}.", nameof(name));
}
