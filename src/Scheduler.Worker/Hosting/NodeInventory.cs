using Scheduler.Policies.Capacity;
using Scheduler.Policies.Profiles;
using Scheduler.Protos.V1;
using Scheduler.Worker.Engines;
using Scheduler.Worker.Engines.Llama;
using Scheduler.Worker.Engines.Upstream;
using Scheduler.Worker.Registration;

namespace Scheduler.Worker.Hosting;

/// <summary>The accelerators and replicas a node offers, derived once from its options, and the GGUF models its llama
/// replicas share (loaded here, since their trained context decides what the node offers; freed on dispose).</summary>
internal sealed class NodeInventory : IDisposable
{
    private readonly List<AcceleratorDescription> _accelerators = [];
    private readonly List<ReplicaDefinition> _replicas = [];
    private readonly Dictionary<string, LlamaModel> _models = new(StringComparer.Ordinal);

    private NodeInventory(string nodeId) => NodeId = nodeId;

    public string NodeId { get; }

    public IReadOnlyList<ReplicaDefinition> Replicas => _replicas;

    /// <summary>Validates the options, loads the llama replicas' models, and lays out accelerator ids
    /// "{node}-{product}-{i}" and replica ids "{accelerator}/{model}".</summary>
    /// <exception cref="ArgumentException">An option is invalid or a model cannot be loaded; the message names the setting.</exception>
    public static NodeInventory Create(WorkerNodeOptions options) => Create(options, Environment.GetEnvironmentVariable);

    /// <inheritdoc cref="Create(WorkerNodeOptions)"/>
    /// <param name="options">The node's options.</param>
    /// <param name="environment">Reads the environment variables that hold upstream API keys.</param>
    internal static NodeInventory Create(WorkerNodeOptions options, Func<string, string?> environment)
    {
        if (string.IsNullOrWhiteSpace(options.NodeId))
        {
            throw new ArgumentException("Worker:NodeId must not be empty.", nameof(options));
        }

        var inventory = new NodeInventory(options.NodeId);
        try
        {
            inventory.Add(options, environment);
            return inventory;
        }
        catch
        {
            inventory.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var model in _models.Values)
        {
            model.Dispose();
        }

        _models.Clear();
    }

    private void Add(WorkerNodeOptions options, Func<string, string?> environment)
    {
        var factor = options.SpeedUpFactor();

        // Checked with the node's other settings, so a bad address stops the node at start-up with its name, not its
        // registration later with a stack trace.
        _ = SchedulerEndpoints.Parse(options.SchedulerAddress);
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

            if (!string.IsNullOrEmpty(group.Pool) && !PoolNames.IsValid(group.Pool))
            {
                throw new ArgumentException($"Worker:Accelerators:{g}:Pool must be {PoolNames.Rule}, not \"{group.Pool}\".", nameof(options));
            }

            if (group.PricePerHourUsd < 0 || group.PricePerMillionInputTokensUsd < 0 || group.PricePerMillionOutputTokensUsd < 0)
            {
                throw new ArgumentException($"Worker:Accelerators:{g}:PricePerHourUsd, PricePerMillionInputTokensUsd and PricePerMillionOutputTokensUsd must not be negative.", nameof(options));
            }

            profile = profile with
            {
                PricePerHourUsd = group.PricePerHourUsd ?? profile.PricePerHourUsd,
                PricePerMillionInputTokensUsd = group.PricePerMillionInputTokensUsd ?? profile.PricePerMillionInputTokensUsd,
                PricePerMillionOutputTokensUsd = group.PricePerMillionOutputTokensUsd ?? profile.PricePerMillionOutputTokensUsd,
            };
            var engine = (group.Engine ?? options.Engine).Trim().ToLowerInvariant();
            AcceleratorProfile advertised, engineProfile;
            LlamaReplicaSettings? llama = null;
            UpstreamReplicaSettings? upstream = null;
            var maxContextTokens = group.MaxContextTokens;
            var microBatchTokens = 0;
            if (group.PrefillMicroBatchTokens is { } microBatch && (microBatch < 0 || engine == EngineNames.Upstream))
            {
                throw new ArgumentException(
                    $"Worker:Accelerators:{g}:PrefillMicroBatchTokens must be at least 0 (0: a step is one call), and only the {EngineNames.Simulated} and {EngineNames.Llama} engines take it (an upstream server runs its own steps), not {microBatch} on the {engine} engine.", nameof(options));
            }

            switch (engine)
            {
                case EngineNames.Simulated:
                    profile = profile with
                    {
                        MaxSequences = group.MaxSequences ?? profile.MaxSequences,
                        KvCapacityTokens = group.KvCapacityTokens ?? profile.KvCapacityTokens,
                    };
                    engineProfile = profile.Accelerated(factor);
                    microBatchTokens = group.PrefillMicroBatchTokens ?? StepPlan.DefaultMicroBatchTokens;

                    // An instant profile has zero step times, which would make every hourly accelerator look free to the
                    // scheduler's cost model; it gets the nominal profile. A finite speed-up is advertised as is, so the
                    // scheduler's predictions match what the engine does.
                    advertised = double.IsPositiveInfinity(factor) ? profile : engineProfile;
                    break;
                case EngineNames.Llama:
                    (engineProfile, maxContextTokens, llama) = LlamaReplica(options, group, g, profile);
                    advertised = engineProfile;
                    microBatchTokens = group.PrefillMicroBatchTokens ?? StepPlan.DefaultMicroBatchTokens;
                    break;
                case EngineNames.Upstream:
                    var (upstreamOptions, prefix) = group.Upstream.BaseUrl is not null
                        ? (group.Upstream, $"Worker:Accelerators:{g}:Upstream")
                        : (options.Upstream, "Worker:Upstream");
                    upstream = upstreamOptions.Validate(prefix, environment);
                    var slots = group.MaxSequences ?? upstreamOptions.Slots;

                    // The upstream holds the KV cache: only slots limit what the replica takes.
                    engineProfile = profile with { MaxSequences = slots, KvCapacityTokens = group.KvCapacityTokens ?? (long)slots * group.MaxContextTokens };
                    advertised = engineProfile;
                    break;
                default:
                    throw new ArgumentException(
                        $"Worker:Accelerators:{g}:Engine (or Worker:Engine) \"{group.Engine ?? options.Engine}\" is not one of {EngineNames.Simulated}, {EngineNames.Llama}, {EngineNames.Upstream}.", nameof(options));
            }

            for (var i = 0; i < group.Count; i++)
            {
                var index = perProduct.GetValueOrDefault(profile.Product);
                perProduct[profile.Product] = index + 1;
                var acceleratorId = $"{options.NodeId}-{profile.Product}-{index}".ToLowerInvariant();
                _accelerators.Add(new AcceleratorDescription { AcceleratorId = acceleratorId, Profile = advertised.ToInfo(), Pool = group.Pool ?? "" });
                _replicas.Add(new ReplicaDefinition($"{acceleratorId}/{group.Model}", group.Model, acceleratorId, engineProfile, maxContextTokens, llama, upstream, microBatchTokens));
            }
        }
    }

    /// <summary>
    /// A llama replica's profile and context from its GGUF model: the accelerator profile (for the scheduler's cost
    /// model) with the replica's slots, KV cells and batch size; a per-sequence context of the model's trained context
    /// capped by the group's <see cref="AcceleratorOptions.MaxContextTokens"/> and the KV cells a sequence may use (its slot's share, unless unified).
    /// </summary>
    private (AcceleratorProfile Profile, int MaxContextTokens, LlamaReplicaSettings Settings) LlamaReplica(
        WorkerNodeOptions options, AcceleratorOptions group, int g, AcceleratorProfile profile)
    {
        var llama = options.Model;
        var (path, setting) = group.ModelPath is { } own ? (own, $"Worker:Accelerators:{g}:ModelPath") : (llama.Path, "Worker:Model:Path");
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new ArgumentException(
                $"Worker:Accelerators:{g} runs the llama engine: set Worker:Model:Path (or Worker:Accelerators:{g}:ModelPath) to a GGUF model file.", nameof(options));
        }

        var slots = group.MaxSequences ?? llama.Slots;
        if (slots < 1 || llama.BatchSize < slots)
        {
            throw new ArgumentException(
                $"Worker:Model:BatchSize ({llama.BatchSize}) must be at least the slots per replica ({slots}), which must be at least 1: every step decodes a token of each sequence.", nameof(options));
        }

        if (llama.Threads < 1 || llama.ContextSize < 1)
        {
            throw new ArgumentException("Worker:Model:Threads and ContextSize must be at least 1 when set.", nameof(options));
        }

        if (llama.QueueAhead < 0 || llama.QueueAhead > slots)
        {
            throw new ArgumentException($"Worker:Model:QueueAhead must be between 0 and the slots per replica ({slots}), not {llama.QueueAhead}.", nameof(options));
        }

        var fullPath = Path.GetFullPath(path);
        if (!_models.TryGetValue(fullPath, out var model))
        {
            model = LlamaModel.Load(path, setting, llama.GpuLayers);
            _models.Add(fullPath, model);
        }

        var perSequence = Math.Min(model.TrainedContextTokens, group.MaxContextTokens);
        var cells = group.KvCapacityTokens ?? llama.ContextSize ?? (long)slots * Math.Min(perSequence, LlamaModelOptions.DefaultCellsPerSlot);
        if (cells > int.MaxValue)
        {
            throw new ArgumentException($"Worker:Accelerators:{g}: a llama context of {cells} KV cells is more than llama.cpp takes.", nameof(options));
        }

        // Per-slot streams: each slot has an equal share and no sequence more than its share, so the node reports the
        // cells the slots really have, and the context a sequence can really reach.
        var sequenceCells = llama.KvUnified ? cells : cells / slots;
        if (sequenceCells < 1)
        {
            throw new ArgumentException($"Worker:Accelerators:{g}: {cells} KV cells cannot give each of {slots} slots its own cells; set more cells or Worker:Model:KvUnified=true.", nameof(options));
        }

        var replicaProfile = profile with { MaxSequences = slots, KvCapacityTokens = llama.KvUnified ? cells : sequenceCells * slots, StepTokenBudget = llama.BatchSize };
        return (replicaProfile, (int)Math.Min(perSequence, sequenceCells), new LlamaReplicaSettings(model, llama.Threads, llama.KvUnified, llama.FlashAttention, llama.QueueAhead));
    }

    // What an upstream can be sent (UpstreamRequest.Fault): text and chat turns, and token ids where it has a completions
    // endpoint; never a prompt known only by its length. The simulated and llama.cpp engines take every form (none listed).
    private static PromptForm[] AcceptedForms(ReplicaDefinition r) => r.Upstream switch
    {
        null => [],
        { ChatOnly: true } => [PromptForm.Text, PromptForm.Messages],
        _ => [PromptForm.Text, PromptForm.Messages, PromptForm.TokenIds],
    };

    /// <summary>The node as announced to the scheduler, reachable at <paramref name="address"/>.</summary>
    public NodeDescription Describe(string address)
    {
        var engines = _replicas.Select(r => r.Engine).Distinct().Order(StringComparer.Ordinal);
        var description = new NodeDescription { NodeId = NodeId, Address = address, Engine = string.Join('+', engines) };
        description.Accelerators.Add(_accelerators.Select(a => a.Clone()));
        description.Replicas.Add(_replicas.Select(r => new ReplicaDescription
        {
            ReplicaId = r.ReplicaId,
            Model = r.Model,
            AcceleratorId = r.AcceleratorId,
            MaxSequences = r.EngineProfile.MaxSequences,
            KvCapacityTokens = r.EngineProfile.KvCapacityTokens,
            MaxContextTokens = r.MaxContextTokens,
            QueueAhead = r.Llama?.QueueAhead ?? 0,
            RequestsPerMinute = r.Upstream?.RequestsPerMinute ?? 0,
            TokensPerMinute = r.Upstream?.TokensPerMinute ?? 0,
            AcceptedPromptForms = { AcceptedForms(r) },
        }));
        return description;
    }
}
