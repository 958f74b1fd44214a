using Scheduler.Policies.Batching;
using Scheduler.Policies.Fairness;
using Scheduler.Policies.Placement;

namespace Scheduler.Policies;

/// <summary>Creates policies by the names configuration uses. Each placement owns fresh instances, since
/// some policies keep state (a round-robin cursor, virtual counters).</summary>
public static class SchedulingPolicies
{
    private static readonly Dictionary<string, Func<IPlacementPolicy>> s_placement = new(StringComparer.OrdinalIgnoreCase)
    {
        [CostAwarePlacement.PolicyName] = () => new CostAwarePlacement(),
        [RoundRobinPlacement.PolicyName] = () => new RoundRobinPlacement(),
    };

    private static readonly Dictionary<string, Func<IFairQueue>> s_fairness = new(StringComparer.OrdinalIgnoreCase)
    {
        [WeightedFairQueue.PolicyName] = () => new WeightedFairQueue(),
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

    public static IPlacementPolicy CreatePlacement(string name) => Create(s_placement, name, "placement");

    public static IFairQueue CreateFairQueue(string name) => Create(s_fairness, name, "fairness");

    public static IBatchingPolicy CreateBatching(string name) => Create(s_batching, name, "batching");

    private static T Create<T>(Dictionary<string, Func<T>> factories, string name, string kind) =>
        factories.TryGetValue(name, out var factory)
            ? factory()
            : throw new ArgumentException($"Unknown {kind} policy '{name}'. Known: {string.Join(", ", factories.Keys)}.", nameof(name));
}
