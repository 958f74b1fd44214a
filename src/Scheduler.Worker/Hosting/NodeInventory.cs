using Scheduler.Policies.Profiles;
using Scheduler.Protos.V1;

namespace Scheduler.Worker.Hosting;

/// <summary>The accelerators and replicas a node offers, derived once from its options.</summary>
internal sealed class NodeInventory
{
    private const string EngineName = "simulated";

    private readonly List<AcceleratorDescription> _accelerators = [];
    private readonly List<ReplicaDefinition> _replicas = [];

    private NodeInventory(string nodeId) => NodeId = nodeId;

    public string NodeId { get; }

    public IReadOnlyList<ReplicaDefinition> Replicas => _replicas;

    /// <summary>Validates the options and lays out accelerator ids "{node}-{product}-{i}" and replica ids "{accelerator}/{model}".</summary>
    public static NodeInventory Create(WorkerNodeOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.NodeId))
        {
            throw new ArgumentException("Worker:NodeId must not be empty.", nameof(options));
        }

        var factor = options.SpeedUpFactor();
        var inventory = new NodeInventory(options.NodeId);
        var perProduct = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        var groups = options.Accelerators.Count > 0 ? options.Accelerators : [new AcceleratorOptions()];
        for (var g = 0; g < groups.Count; g++)
        {
            var group = groups[g];
            if (!AcceleratorProfiles.TryGet(group.Product, out var profile))
            {
                throw new ArgumentException(
                    $"Worker:Accelerators:{g}:Product \"{group.Product}\" is not one of {string.Join(", ", AcceleratorProfiles.All.Keys)}.", nameof(options));
            }

            if (group.Count < 1)
            {
                throw new ArgumentException($"Worker:Accelerators:{g}:Count must be at least 1, not {group.Count}.", nameof(options));
            }

            if (string.IsNullOrWhiteSpace(group.Model))
            {
                throw new ArgumentException($"Worker:Accelerators:{g}:Model must not be empty.", nameof(options));
            }

            if (group.MaxContextTokens < 1)
            {
                throw new ArgumentException($"Worker:Accelerators:{g}:MaxContextTokens must be at least 1, not {group.MaxContextTokens}.", nameof(options));
            }

            if (group.MaxSequences < 1 || group.KvCapacityTokens < 1)
            {
                throw new ArgumentException($"Worker:Accelerators:{g}:MaxSequences and KvCapacityTokens must be at least 1 when set.", nameof(options));
            }

            if (group.PricePerHourUsd < 0 || group.PricePerMillionInputTokensUsd < 0 || group.PricePerMillionOutputTokensUsd < 0)
            {
                throw new ArgumentException($"Worker:Accelerators:{g}:PricePerHourUsd, PricePerMillionInputTokensUsd and PricePerMillionOutputTokensUsd must not be negative.", nameof(options));
            }

            profile = profile with
            {
                MaxSequences = group.MaxSequences ?? profile.MaxSequences,
                KvCapacityTokens = group.KvCapacityTokens ?? profile.KvCapacityTokens,
                PricePerHourUsd = group.PricePerHourUsd ?? profile.PricePerHourUsd,
                PricePerMillionInputTokensUsd = group.PricePerMillionInputTokensUsd ?? profile.PricePerMillionInputTokensUsd,
                PricePerMillionOutputTokensUsd = group.PricePerMillionOutputTokensUsd ?? profile.PricePerMillionOutputTokensUsd,
            };
            var engineProfile = profile.Accelerated(factor);

            // An instant profile has zero step times, which would make every hourly accelerator look free to the
            // scheduler's cost model; it gets the nominal profile. A finite speed-up is advertised as is, so the
            // scheduler's predictions match what the engine does.
            var advertised = double.IsPositiveInfinity(factor) ? profile : engineProfile;
            for (var i = 0; i < group.Count; i++)
            {
                var index = perProduct.GetValueOrDefault(profile.Product);
                perProduct[profile.Product] = index + 1;
                var acceleratorId = $"{options.NodeId}-{profile.Product}-{index}".ToLowerInvariant();
                inventory._accelerators.Add(new AcceleratorDescription { AcceleratorId = acceleratorId, Profile = advertised.ToInfo() });
                inventory._replicas.Add(new ReplicaDefinition($"{acceleratorId}/{group.Model}", group.Model, acceleratorId, engineProfile, group.MaxContextTokens));
            }
        }

        return inventory;
    }

    /// <summary>The node as announced to the scheduler, reachable at <paramref name="address"/>.</summary>
    public NodeDescription Describe(string address)
    {
        var description = new NodeDescription { NodeId = NodeId, Address = address, Engine = EngineName };
        description.Accelerators.Add(_accelerators.Select(a => a.Clone()));
        description.Replicas.Add(_replicas.Select(r => new ReplicaDescription
        {
            ReplicaId = r.ReplicaId,
            Model = r.Model,
            AcceleratorId = r.AcceleratorId,
            MaxSequences = r.EngineProfile.MaxSequences,
            KvCapacityTokens = r.EngineProfile.KvCapacityTokens,
            MaxContextTokens = r.MaxContextTokens,
        }));
        return description;
    }
}
