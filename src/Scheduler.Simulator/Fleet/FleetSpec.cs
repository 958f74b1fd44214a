using System.Text.Json;
using System.Text.Json.Serialization;
using Scheduler.Policies.Profiles;

namespace Scheduler.Simulator.Fleet;

/// <summary>A modelled fleet, as a file lists it (sim/fleets/*.json): accelerators by product, count and pricing mode.</summary>
/// <param name="Name">Short name used in reports.</param>
/// <param name="Description">Why this fleet; reports quote it.</param>
/// <param name="Nodes">Groups of identical accelerators; each accelerator hosts one replica of the model.</param>
internal sealed record FleetSpec(string Name, string? Description, IReadOnlyList<NodeSpec> Nodes)
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web)
    {
        ReadCommentHandling = JsonCommentHandling.Skip,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public static FleetSpec Load(string path)
    {
        var fleet = JsonSerializer.Deserialize<FleetSpec>(File.ReadAllText(path), s_json)
            ?? throw new InvalidDataException($"{path}: empty fleet file");
        fleet.Validate(path);
        return fleet;
    }

    /// <summary>The same fleet with other counts (fleet planning tries many).</summary>
    public FleetSpec WithCounts(IReadOnlyList<int> counts) =>
        this with { Nodes = Nodes.Select((n, i) => n with { Count = counts[i] }).Where(n => n.Count > 0).ToList() };

    /// <summary>One line per group, e.g. "2×H100 + 1×LPU (metered, 16 seq)".</summary>
    public string Summary() => string.Join(" + ", Nodes.Select(n => n.Summary()));

    private void Validate(string path)
    {
        if (Nodes.Count == 0)
        {
            throw new InvalidDataException($"{path}: a fleet needs at least one node group");
        }

        foreach (var node in Nodes)
        {
            var profile = node.Profile(); // throws on an unknown product
            if (node.Count < 0)
            {
                throw new InvalidDataException($"{path}: {node.Product} count must not be negative");
            }

            // The pricing mode is stated in the file so a reader sees it; it must agree with the profile's prices.
            if ((node.Pricing == PricingMode.Metered) != profile.IsMetered)
            {
                throw new InvalidDataException($"{path}: {node.Product} is {(profile.IsMetered ? "metered" : "hourly")} in its profile, not {node.Pricing}");
            }
        }
    }
}

/// <summary>How capacity is paid for.</summary>
internal enum PricingMode
{
    /// <summary>By the hour: owned, reserved or spot nodes.</summary>
    Hourly,

    /// <summary>By the token: a metered endpoint.</summary>
    Metered,
}

/// <summary>A group of identical accelerators.</summary>
/// <param name="Product">Built-in profile name (H100, A100, L40S, L4, LPU).</param>
/// <param name="Count">Accelerators (one replica each).</param>
/// <param name="Pricing">Hourly or metered; must match the profile.</param>
/// <param name="MaxSequences">Overrides the profile's slots: a metered endpoint's concurrency limit.</param>
internal sealed record NodeSpec(string Product, int Count, PricingMode Pricing, int? MaxSequences = null)
{
    public AcceleratorProfile Profile()
    {
        if (!AcceleratorProfiles.TryGet(Product, out var profile))
        {
            throw new InvalidDataException($"Unknown accelerator product '{Product}'. Known: {string.Join(", ", AcceleratorProfiles.All.Keys)}");
        }

        return MaxSequences is { } slots ? profile with { MaxSequences = slots } : profile;
    }

    public string Summary() =>
        $"{Count}×{Product}" + (Pricing == PricingMode.Metered ? $" (metered{(MaxSequences is { } s ? $", {s} concurrent" : "")})" : "");
}
