using System.CommandLine;
using System.Globalization;
using Scheduler.Policies;
using Scheduler.Policies.Dispatch;
using Scheduler.Policies.Placement;
using Scheduler.Policies.Profiles;
using Scheduler.Simulator.Fleet;
using Scheduler.Simulator.Planning;
using Scheduler.Simulator.Scenarios;
using Scheduler.Simulator.Workload;

namespace Scheduler.Simulator.Cli;

/// <summary>The simulator's options, each with its help text and documented default.</summary>
internal static class SimulatorOptions
{
    // The bounds below keep every option's value one the simulation can run: a rate factor of 1e-12 or a cold start
    // of 1e300 s would overflow the virtual clock's calendar mid-run instead of being refused here.

    /// <summary>The slowest and fastest arrival-rate factors: a year-long trace at the slowest still fits the virtual
    /// clock's calendar.</summary>
    public const double MinRateFactor = 0.001, MaxRateFactor = 1000;

    /// <summary>The longest duration a seconds option takes: a day.</summary>
    public const double MaxSeconds = 86_400;

    public static readonly Option<string> FleetFile = new("--fleet")
    {
        Description = "Fleet file to simulate (sim/fleets/*.json)",
        DefaultValueFactory = _ => "sim/fleets/hetero.json",
        Recursive = true,
    };

    public static readonly Option<string> Traces = new("--traces")
    {
        Description = "Folder holding the Azure LLM inference traces (azure-llm-2023-code.csv, azure-llm-2023-conv.csv)",
        DefaultValueFactory = _ => "../shared/traces",
        Recursive = true,
    };

    public static readonly Option<int> Seed = new("--seed")
    {
        Description = "Seed of the randomised policies and the flood scenario's arrivals",
        DefaultValueFactory = _ => 1,
        Recursive = true,
    };

    /// <summary>The Azure traces <see cref="Trace"/> names rather than gives by path.</summary>
    public static readonly string[] NamedTraces = ["code", "conv"];

    public static readonly Option<string> Trace = new("--trace")
    {
        Description = "Which trace to replay: code or conv (the Azure 2023 traces in --traces), or the path of a CSV trace in the Azure format (TIMESTAMP,ContextTokens,GeneratedTokens; the 2024 week-long traces too) or BurstGPT's (Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type), told apart by the header",
        DefaultValueFactory = _ => "conv",
        CustomParser = result =>
        {
            var text = result.Tokens.Count == 0 ? "conv" : result.Tokens[^1].Value;
            if (!NamedTraces.Contains(text) && !File.Exists(text))
            {
                var why = Directory.Exists(text) ? "a folder, not a file" : InputFile.FromWhere(text) is { } from ? $"no such file; {from}" : "no such file";
                result.AddError($"--trace must be code, conv or the path of a CSV trace file, not '{text}' ({why}).");
            }

            return text;
        },
    };

    public static readonly Option<double> Rate = RateFactor("--rate", "Arrival-rate factor: the trace's arrival rate is multiplied by it", 1);

    public static readonly Option<string> Placement = Policy("--placement", "Placement policy", SchedulingPolicies.DefaultPlacement, SchedulingPolicies.PlacementNames);
    public static readonly Option<string> Fairness = Policy("--fairness", "Fairness policy", SchedulingPolicies.DefaultFairness, SchedulingPolicies.FairnessNames);
    public static readonly Option<string> Batching = Policy("--batching", "Batching policy", SchedulingPolicies.DefaultBatching, SchedulingPolicies.BatchingNames);

    public static readonly Option<string?> KvTrace = new("--kv-trace")
    {
        Description = "A KV-cache trace (JSONL: timestamp in ms or an ISO 8601 time, input_length, output_length, hash_ids of 512-token blocks) to replay instead of the built-in prefix workloads",
    };

    public static readonly Option<double> PrefixRate = RateFactor("--prefix-rate", "Arrival-rate factor of the prefix workloads (or the KV-cache trace)", 1);

    public static readonly Option<int> PrefixSeed = new("--prefix-seed")
    {
        Description = "Seed of the built-in prefix workloads' arrivals and messages (7 is the one docs/benchmarks.md tables; several seeds show how far one run's figures are from another's)",
        DefaultValueFactory = _ => new PrefixWorkloadSettings().Seed,
    };

    public static readonly Option<int> SystemPrompts = WholeNumber(
        "--system-prompts",
        "Distinct system prompts of the system-prompt workload, one per tenant (8 by default: every replica's cache holds them all, so where a request goes hardly matters; 64 of 3,072 tokens are more than an L4 holds)",
        new PrefixWorkloadSettings().SystemPromptTenants,
        1);

    public static readonly Option<string[]> PrefixPlacements = new Option<string[]>("--prefix-placements")
    {
        Description = "Placements the prefix command replays, space-separated (default: all of them)",
        DefaultValueFactory = _ => [.. PrefixScenario.Placements],
        AllowMultipleArgumentsPerToken = true,
    }.AcceptOnlyFromAmong([.. PrefixScenario.Placements]);

    public static readonly Option<string[]> PrefixWorkloadNames = new Option<string[]>("--prefix-workloads")
    {
        Description = "Built-in prefix workloads the prefix command replays, space-separated (default: all of them)",
        DefaultValueFactory = _ => [.. PrefixWorkloads.Names],
        AllowMultipleArgumentsPerToken = true,
    }.AcceptOnlyFromAmong([.. PrefixWorkloads.Names]);

    public static readonly Option<double> EngineCacheShare = Positive(
        "--engine-cache-share",
        "Share of the KV room the placement models as a replica's prefix cache that the simulated engines' caches actually hold, in (0, 1] (below 1: engines that keep less than the placement thinks)",
        1,
        maximum: 1);

    public static readonly Option<bool> CacheEvents = new("--cache-events")
    {
        Description = "Whether the engines report the blocks their prefix caches evict, for the placement's index to forget (false: the index mirrors the engines' eviction rule alone)",
        DefaultValueFactory = _ => true,
    };

    public static readonly Option<string?> WriteKvTraces = new("--write-kv-traces")
    {
        Description = "Also write the built-in prefix workloads as KV-cache traces (JSONL) into this folder",
    };

    public static readonly Option<string> GpuFleet = new("--gpu-fleet")
    {
        Description = "GPU-only fleet file for the placement-alone comparison",
        DefaultValueFactory = _ => "sim/fleets/gpu-only.json",
    };

    public static readonly Option<string> Catalogue = new("--catalogue")
    {
        Description = "Fleet catalogue for fleet planning: the most of each accelerator type one could rent",
        DefaultValueFactory = _ => "sim/fleets/catalogue.json",
    };

    public static readonly Option<int> MaxPlanSimulations = PositiveInt(
        "--max-plan-simulations",
        "Fleet planning: the most simulations of a trace its descent may take on --catalogue at worst (hourly accelerators × their types, twice, plus the single-type searches); a larger catalogue is refused before any simulation runs",
        FleetPlanner.DefaultMaxSimulations);

    public static readonly Option<string> Out = new("--out")
    {
        Description = "Folder for results.md, results.csv and the PNG plots",
        DefaultValueFactory = _ => "bench/results/sim",
    };

    public static readonly Option<double> CodeRate = RateFactor("--code-rate", "Arrival-rate factor of the code trace", 2);
    public static readonly Option<double> ConvRate = RateFactor("--conv-rate", "Arrival-rate factor of the conv trace", 6);
    public static readonly Option<int> BurstRequests = PositiveInt("--burst-requests", "Requests of each trace in the saturation burst", 4_000);
    public static readonly Option<double> BurstRate = RateFactor("--burst-rate", "Arrival-rate factor of the saturation burst", 50);
    public static readonly Option<int> MaxPreemptions = WholeNumber(
        "--max-preemptions", "How often one job may be stopped to make room for a critical or under-share one (0: no preemption)", PolicyChoice.DefaultMaxPreemptions, 0);

    public static readonly Option<int> MaxDecodeDeferrals = WholeNumber(
        "--max-decode-deferrals",
        "Consecutive steps an over-share tenant's sequence may skip its decode while an under-share prompt is prefilled (0: never)",
        PolicyChoice.DefaultMaxDecodeDeferrals,
        0);

    public static readonly Option<int> ContendedPrefillTokens = WholeNumber(
        "--contended-prefill-tokens",
        "Prompt tokens a step an over-share tenant's sequences may prefill, together, while an under-share prompt is or was recently pending on their replica, or an under-share sequence recently left it (0: uncapped)",
        Dispatcher.DefaultContendedPrefillTokens,
        0);

    public static readonly Option<int> ContendedPrefillWindowMs = WholeNumber(
        "--contended-prefill-window-ms",
        "Milliseconds a replica stays contended after an under-share prompt was last pending there or an under-share sequence left it",
        Dispatcher.DefaultContendedPrefillWindowMs,
        0);

    public static readonly Option<int> SetAsideWithinClassAfterMs = WholeNumber(
        "--set-aside-within-class-after-ms",
        "Milliseconds the job next in fair order may wait while smaller jobs of its class take the room it cannot use, before a replica is set aside for it (0: never, purely work-conserving)",
        Dispatcher.DefaultSetAsideWithinClassAfterMs,
        0);

    public static readonly Option<int> PrefillMicroBatchTokens = WholeNumber(
        "--prefill-micro-batch-tokens",
        "Prompt tokens of one prefill call of an engine step; a prompt admitted during a step, ranked ahead of its later calls' prefill, ends it after the call under way (0: a step is one call)",
        StepPlan.DefaultMicroBatchTokens,
        0);

    public static readonly Option<double> WaitCost = Number(
        "--wait-cost",
        "US dollars a second of a job's wait for its first token costs, added by cost-aware placement to each replica's predicted cost (0: only the accelerators' time counts)",
        PlacementSettings.DefaultWaitCostUsdPerSecond,
        PlacementSettings.MaxWaitCostUsdPerSecond,
        takesZero: true);

    public static readonly Option<double> SessionWaitCost = Number(
        "--session-wait-cost",
        "US dollars a second of a session's turn's wait costs, its own and its next turn's, in cost-aware placement, among the replicas with no prefill pending ahead, the job's prompt cached as on any other and KV room for the sessions recently placed there (0: sessions priced as other jobs)",
        PlacementSettings.DefaultSessionWaitCostUsdPerSecond,
        PlacementSettings.MaxWaitCostUsdPerSecond,
        takesZero: true);

    public static readonly Option<double> LightRate = Positive("--light-rate", "Flood scenario: the light tenant's Poisson arrivals per second", 15, maximum: 10_000);
    public static readonly Option<double> FloodMultiplier = Positive("--flood-multiplier", "Flood scenario: the flooding tenant's rate as a multiple of the light tenant's", 10, maximum: 1000);
    public static readonly Option<double> FloodSeconds = Positive("--flood-seconds", "Flood scenario: seconds of arrivals", 120, maximum: MaxSeconds);

    public static readonly Option<double> ColdStartSeconds = Positive("--cold-start-seconds", "Autoscaling: seconds from asking for a GPU replica to its first admission (node start, model load, warm-up)", 120, maximum: MaxSeconds);
    public static readonly Option<double> ScaleDownSeconds = Positive("--scale-down-seconds", "Autoscaling: seconds a pool must have wanted fewer replicas before one is drained and released", 120, maximum: MaxSeconds);
    public static readonly Option<double> PeakLookbackSeconds = Positive("--peak-lookback-seconds", "Autoscaling: seconds a burst keeps sizing the pools' prefill", 300, maximum: MaxSeconds);

    /// <summary>The autoscaled pools' settings from the parsed options.</summary>
    public static AutoscaleSettings Autoscale(ParseResult parse) => AutoscaleSettings.Default with
    {
        ColdStart = TimeSpan.FromSeconds(parse.GetValue(ColdStartSeconds)),
        ScaleDownAfter = TimeSpan.FromSeconds(parse.GetValue(ScaleDownSeconds)),
        PeakLookback = TimeSpan.FromSeconds(parse.GetValue(PeakLookbackSeconds)),
    };

    /// <summary>The flood scenario's settings from the parsed options.</summary>
    public static FloodScenario.Settings Flood(ParseResult parse) => new(
        parse.GetValue(LightRate), parse.GetValue(FloodMultiplier), parse.GetValue(FloodSeconds), parse.GetValue(Seed));

    private static Option<string> Policy(string name, string description, string fallback, IReadOnlyCollection<string> names) =>
        new Option<string>(name)
        {
            Description = $"{description}: {string.Join(", ", names)}",
            DefaultValueFactory = _ => fallback,
        }.AcceptOnlyFromAmong([.. names]);

    private static Option<double> RateFactor(string name, string description, double fallback) =>
        Number(name, description, fallback, MaxRateFactor, takesZero: false, minimum: MinRateFactor);

    // A custom parser rather than a validator: a validator reading a value that failed to parse throws.
    private static Option<double> Positive(string name, string description, double fallback, double maximum = double.PositiveInfinity) =>
        Number(name, description, fallback, maximum, takesZero: false);

    private static Option<double> Number(string name, string description, double fallback, double maximum, bool takesZero, double minimum = 0) => new(name)
    {
        Description = description,
        DefaultValueFactory = _ => fallback,
        CustomParser = result =>
        {
            var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
                && (minimum > 0 ? value >= minimum : value > 0 || (takesZero && value == 0)) && double.IsFinite(value) && value <= maximum)
            {
                return value;
            }

            var lowest = minimum > 0 ? "[" + minimum.ToString(CultureInfo.InvariantCulture) : takesZero ? "[0" : "(0";
            result.AddError(double.IsFinite(maximum)
                ? $"{name} must be a number in {lowest}, {maximum.ToString(CultureInfo.InvariantCulture)}], not '{text}'."
                : $"{name} must be a {(takesZero ? "non-negative" : "positive")} number, not '{text}'.");
            return fallback;
        },
    };

    private static Option<int> PositiveInt(string name, string description, int fallback) => WholeNumber(name, description, fallback, 1);

    private static Option<int> WholeNumber(string name, string description, int fallback, int minimum) => new(name)
    {
        Description = description,
        DefaultValueFactory = _ => fallback,
        CustomParser = result =>
        {
            var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
            if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= minimum)
            {
                return value;
            }

            result.AddError($"{name} must be a whole number of at least {minimum}, not '{text}'.");
            return fallback;
        },
    };
}
