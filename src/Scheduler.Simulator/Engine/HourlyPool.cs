using System.Globalization;
using Scheduler.Policies.Profiles;

namespace Scheduler.Simulator.Engine;

/// <summary>
/// An autoscaled pool: the fleet's hourly replicas alike in product, price and limits (one node group, or several a
/// fleet file lists alike). Two groups of one product at different prices or limits (on-demand and spot H100s, say)
/// are two pools, each with its own profile, so the capacity policy fills the cheaper first and bills each at its own
/// price.
/// </summary>
/// <param name="Name">The product, or, when another pool has the same product, the product with its price (and its
/// slots and KV cache where those tell the pools apart): what reports and the capacity policy call it.</param>
/// <param name="Profile">What one replica of the pool does and costs.</param>
/// <param name="Members">Indexes of its replicas in the fleet's list, in fleet order.</param>
internal sealed record HourlyPool(string Name, AcceleratorProfile Profile, int[] Members)
{
    /// <summary>The hourly pools of <paramref name="replicas"/>, in the order their first replica is listed; metered
    /// endpoints are in none.</summary>
    public static IReadOnlyList<HourlyPool> Of(IReadOnlyList<SimReplica> replicas)
    {
        // An hourly group's profile differs from another of its product only in what the fleet file set: its hourly
        // price, slots and KV cache (a per-token price makes it metered). Profiles are records, so equal is alike.
        var alike = replicas.Select((r, i) => (r.Profile, Index: i)).Where(x => !x.Profile.IsMetered)
            .GroupBy(x => x.Profile).Select(g => (Profile: g.Key, Members: g.Select(x => x.Index).ToArray())).ToList();
        return [.. alike.Select(p =>
        {
            AcceleratorProfile[] others = [.. alike.Select(o => o.Profile).Where(o => o != p.Profile && o.Product == p.Profile.Product)];
            return new HourlyPool(NameOf(p.Profile, others), p.Profile, p.Members);
        })];
    }

    private static string NameOf(AcceleratorProfile profile, AcceleratorProfile[] sameProduct)
    {
        if (sameProduct.Length == 0)
        {
            return profile.Product;
        }

        var name = string.Create(CultureInfo.InvariantCulture, $"{profile.Product} at ${profile.PricePerHourUsd}/h");
        if (sameProduct.Any(o => o.PricePerHourUsd == profile.PricePerHourUsd && o.MaxSequences != profile.MaxSequences))
        {
            name += string.Create(CultureInfo.InvariantCulture, $", {profile.MaxSequences} slots");
        }

        if (sameProduct.Any(o => o.PricePerHourUsd == profile.PricePerHourUsd && o.KvCapacityTokens != profile.KvCapacityTokens))
        {
            name += string.Create(CultureInfo.InvariantCulture, $", {profile.KvCapacityTokens:#,0} KV tokens");
        }

        return name;
    }
}
