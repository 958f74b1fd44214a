namespace Scheduler.Worker.Hosting;

/// <summary>A group of identical accelerators on the node, each hosting one replica of <see cref="Model"/>.</summary>
public sealed class AcceleratorOptions
{
    /// <summary>Profile name from <see cref="Policies.Profiles.AcceleratorProfiles"/>: H100, A100, L40S, L4 or LPU (any case).</summary>
    public string Product { get; set; } = "A100";

    /// <summary>The worker pool these accelerators belong to: the node group an autoscaler grows (the Helm chart passes
    /// its pool's name). The scheduler sizes its capacity signal per pool, so two pools of one product (on-demand and
    /// spot, say) are scaled apart. Unset or empty: the pool named after <see cref="Product"/>.</summary>
    public string? Pool { get; set; }

    /// <summary>How many accelerators of this product the node has.</summary>
    public int Count { get; set; } = 1;

    /// <summary>The model each of these accelerators serves.</summary>
    public string Model { get; set; } = "llama-3.1-8b";

    /// <summary>Longest prompt plus output a replica accepts; the default is Llama-3.1-8B's context. The llama engine
    /// also caps it at the model's trained context and at its replica's KV cells.</summary>
    public int MaxContextTokens { get; set; } = 131_072;

    /// <summary>Sequence slots per replica, overriding the profile's (e.g. 1 to make jobs queue in a test), or for the
    /// llama engine <see cref="LlamaModelOptions.Slots"/>.</summary>
    public int? MaxSequences { get; set; }

    /// <summary>KV-cache tokens per replica, overriding the profile's (for the llama engine: its context's cells).</summary>
    public long? KvCapacityTokens { get; set; }

    /// <summary>Prompt tokens of one prefill micro-batch of the simulated or llama engine (for llama, one
    /// <c>llama_decode</c> call; the simulated engine models llama.cpp's calls): a step's prefill runs in calls of this many tokens, and a prompt admitted during a step, ranked ahead of the prefill its
    /// later calls hold, ends the step after the call under way and goes first in the next (docs/internals.md,
    /// "Engine"). 0 runs each step as one call, which never ends early. Unset: 256
    /// (<see cref="Policies.Profiles.StepPlan.DefaultMicroBatchTokens"/>). Refused on an upstream group, whose server runs its own steps.</summary>
    public int? PrefillMicroBatchTokens { get; set; }

    /// <summary>The engine of these replicas, overriding <see cref="WorkerNodeOptions.Engine"/>: "simulated", "llama" or "upstream".</summary>
    public string? Engine { get; set; }

    /// <summary>The GGUF file these replicas run with the llama engine, overriding <see cref="LlamaModelOptions.Path"/>.</summary>
    public string? ModelPath { get; set; }

    /// <summary>The OpenAI-compatible server these replicas forward to with the upstream engine; when its
    /// <see cref="UpstreamOptions.BaseUrl"/> is unset, the node's <see cref="WorkerNodeOptions.Upstream"/> is used whole.</summary>
    public UpstreamOptions Upstream { get; } = new();

    /// <summary>Hourly price, overriding the profile's (what this capacity really costs the operator).</summary>
    public double? PricePerHourUsd { get; set; }

    /// <summary>Metered price per million prompt tokens, overriding the profile's.</summary>
    public double? PricePerMillionInputTokensUsd { get; set; }

    /// <summary>Metered price per million output tokens, overriding the profile's.</summary>
    public double? PricePerMillionOutputTokensUsd { get; set; }
}
