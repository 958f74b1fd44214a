using System.CommandLine;
using Grpc.Core;
using Scheduler.Protos.V1;

namespace Scheduler.Cli;

/// <summary>Admin commands on the fleet: models, accelerators, replicas, the cluster summary, cordoning, forgetting a node.</summary>
internal static class FleetCommands
{
    public static readonly Listing<Model> Models = new(
        new("MODEL", m => m.Name),
        new("CONTEXT", m => Format.Number(m.MaxContextTokens)),
        new("MAX OUTPUT", m => Format.Number(m.MaxOutputTokens)),
        new("TTFT SLO MS", m => Format.Number(m.DefaultTtftObjectiveMs)),
        new("REPLICAS", m => Format.Number(m.Replicas)),
        new("QUEUED", m => Format.Number(m.QueuedJobs)),
        new("TTFT MET 1M", m => Format.Attainment(m.TtftMetLastMinute, m.TtftJobsLastMinute)),
        new("TOKENIZER", m => Format.OrDash(m.Tokenizer), WideOnly: true),
        new("CHAT TEMPLATE", m => Format.OrDash(m.ChatTemplate), WideOnly: true),
        new("QUEUED BY TENANT", m => Format.Counts(m.QueuedByTenant), WideOnly: true));

    public static readonly Listing<Accelerator> Accelerators = new(
        new("ACCELERATOR", a => a.AcceleratorId),
        new("NODE", a => a.NodeId),
        new("KIND", a => a.Kind, WideOnly: true),
        new("PRODUCT", a => a.Product),
        new("MEM GIB", a => Format.GiB(a.MemoryBytes), WideOnly: true),
        new("$/HOUR", a => Format.Number(a.PricePerHourUsd, 2)),
        new("$/M IN", a => Format.Number(a.PricePerMillionInputTokensUsd, 2), WideOnly: true),
        new("$/M OUT", a => Format.Number(a.PricePerMillionOutputTokensUsd, 2), WideOnly: true),
        new("WATTS", a => Format.Number(a.PowerWatts, 0), WideOnly: true),
        new("STATE", a => a.State),
        new("UTIL", a => Format.Percent(a.Utilization)),
        new("REPLICAS", a => Format.Number(a.ReplicaIds.Count)),
        new("REPLICA IDS", a => a.ReplicaIds.Count == 0 ? "-" : string.Join(",", a.ReplicaIds), WideOnly: true));

    public static readonly Listing<Replica> Replicas = new(
        new("REPLICA", r => r.ReplicaId),
        new("MODEL", r => r.Model),
        new("NODE", r => r.NodeId, WideOnly: true),
        new("ACCELERATOR", r => r.AcceleratorId),
        new("PRODUCT", r => r.Product),
        new("STATE", r => r.State),
        new("SEQS", r => $"{r.RunningSequences}/{r.MaxSequences}"),
        new("FREE KV", r => $"{r.FreeKvTokens}/{r.KvCapacityTokens}"),
        // "-" where no engine reports: a lost node's last figures are not live ones.
        new("ENGINE SEQS", r => r.EngineReporting ? Format.Number(r.EngineRunningSequences) : "-"),
        new("ENGINE KV", r => r.EngineReporting ? Format.Number(r.EngineKvTokensUsed) : "-"),
        new("TOK/S", r => r.EngineReporting ? Format.Number(r.MeasuredOutputTokensPerSecond, 1) : "-"),
        new("ADMISSIONS", r => Format.Number(r.Admissions)),
        new("INTO RUNNING", r => Format.Number(r.AdmissionsIntoRunningBatch)),
        new("REJECTED", r => Format.Number(r.EngineRejectedAdmissions)),
        new("DECODES", r => Format.Number(r.EngineDecodeCalls), WideOnly: true),
        new("SEQS/DECODE", r => Format.Number(r.EngineMeanSequencesPerDecode, 2), WideOnly: true),
        new("RATE LIMIT", RateLimit, WideOnly: true),
        new("PREFIX BLOCKS", r => $"{Format.Number(r.CachedPrefixBlocks)} ({Format.Number(r.PrefixBlocksForgotten)} forgotten)", WideOnly: true),
        new("JOBS", r => r.RunningJobIds.Count == 0 ? "-" : string.Join(",", r.RunningJobIds), WideOnly: true));

    // "1000 rpm (998 free) · 250000 tpm (12400 free)"; "-" without limits. "Free" is the scheduler's count.
    private static string RateLimit(Replica r)
    {
        var parts = new List<string>(2);
        if (r.RequestsPerMinute > 0)
        {
            parts.Add($"{Format.Number(r.RequestsPerMinute)} rpm ({Format.Number(r.RequestsAvailable, 0)} free)");
        }

        if (r.TokensPerMinute > 0)
        {
            parts.Add($"{Format.Number(r.TokensPerMinute)} tpm ({Format.Number(r.TokensAvailable, 0)} free)");
        }

        return parts.Count == 0 ? "-" : string.Join(" · ", parts);
    }

    /// <summary>Adds the fleet commands to <paramref name="root"/>.</summary>
    public static void AddTo(RootCommand root)
    {
        root.Add(ListingCommands.Listed("models", "List models with their limits, replicas, queued jobs and TTFT attainment", Models,
            (admin, _, cancellationToken) => admin.ListModelsAsync(cancellationToken: cancellationToken)));
        root.Add(ListingCommands.Listed("accelerators", "List accelerators with their state, price and utilisation", Accelerators,
            (admin, _, cancellationToken) => admin.ListAcceleratorsAsync(cancellationToken: cancellationToken)));
        root.Add(ReplicasCommand());
        root.Add(Summary());
        root.Add(Capacity());
        root.Add(Cordon("cordon", "Cordon an accelerator: it takes no new sequences, those running finish", cordon: true));
        root.Add(Cordon("uncordon", "Uncordon an accelerator: it takes new sequences again", cordon: false));
        root.Add(CordonNode("cordon-node", "Cordon every accelerator of a worker node (before its maintenance): it takes no new sequences, those running finish", cordon: true));
        root.Add(CordonNode("uncordon-node", "Uncordon every accelerator of a worker node", cordon: false));
        root.Add(ForgetNode());
    }

    private static Command ForgetNode()
    {
        var id = IdArguments.Node();
        return ListingCommands.Shown(
            "forget-node", "Forget a worker node that is gone (its accelerators read lost): they are no longer listed or counted lost; refused while the node is connected",
            (admin, parse, cancellationToken) => admin.ForgetNodeAsync(parse.GetRequiredValue(id), cancellationToken: cancellationToken),
            forgotten => Output.ToJson(forgotten),
            (forgotten, _) => Console.WriteLine(
                $"forgot node {forgotten.NodeId}: {forgotten.AcceleratorIds.Count} accelerators ({Format.OrDash(string.Join(",", forgotten.AcceleratorIds))}), " +
                $"{forgotten.ReplicaIds.Count} replicas ({Format.OrDash(string.Join(",", forgotten.ReplicaIds))})"),
            id);
    }

    private static Command ReplicasCommand()
    {
        var model = new Option<string>("--model") { Description = "Only this model's replicas" }.Fills("model");
        return ListingCommands.Listed("replicas", "List model replicas with their running batches", Replicas,
            (admin, parse, cancellationToken) => admin.ListReplicasAsync(parse.GetValue(model), cancellationToken: cancellationToken),
            model);
    }

    private static Command Summary() => ListingCommands.Shown(
        "summary", "Show the cluster's totals and policies",
        (admin, _, cancellationToken) => admin.GetClusterSummaryAsync(cancellationToken: cancellationToken),
        Output.ToJson, (summary, _) => PrintSummary(summary));

    private static Command Capacity()
    {
        var model = new Option<string>("--model") { Description = "Only this model" }.Fills("model");
        return ListingCommands.Shown(
            "capacity", "Show the replicas the scheduler wants per model and accelerator pool, and the demand it sized them for",
            (admin, parse, cancellationToken) => admin.GetCapacityAsync(parse.GetValue(model), cancellationToken: cancellationToken),
            models => Output.ToJson(models), PrintCapacity, model);
    }

    private static Command Cordon(string name, string description, bool cordon)
    {
        var id = new Argument<string>("accelerator-id") { Description = "The accelerator's id" }.Fills("accelerator_id");
        return ListingCommands.Single(name, description, Accelerators, (admin, parse, cancellationToken) =>
        {
            var acceleratorId = parse.GetRequiredValue(id);
            return cordon
                ? admin.CordonAcceleratorAsync(acceleratorId, cancellationToken: cancellationToken)
                : admin.UncordonAcceleratorAsync(acceleratorId, cancellationToken: cancellationToken);
        }, id);
    }

    private static Command CordonNode(string name, string description, bool cordon)
    {
        var id = IdArguments.Node();
        return ListingCommands.Listed(name, description, Accelerators, async (admin, parse, cancellationToken) =>
        {
            var nodeId = parse.GetRequiredValue(id);
            var ofNode = (await admin.ListAcceleratorsAsync(cancellationToken: cancellationToken)).Where(a => a.NodeId == nodeId).ToList();
            if (ofNode.Count == 0)
            {
                // As the scheduler refuses an unknown accelerator (cordon) or node (forget-node): NOT_FOUND, exit code 2.
                throw new RpcException(new Status(StatusCode.NotFound, $"the scheduler knows no accelerator of node '{nodeId}' (schedctl accelerators lists the nodes)"));
            }

            // One call per accelerator, each audited like a cordon of its own.
            var changed = new List<Accelerator>();
            foreach (var accelerator in ofNode)
            {
                changed.Add(cordon
                    ? await admin.CordonAcceleratorAsync(accelerator.AcceleratorId, cancellationToken: cancellationToken)
                    : await admin.UncordonAcceleratorAsync(accelerator.AcceleratorId, cancellationToken: cancellationToken));
            }

            return changed;
        }, id);
    }

    // What GetCapacity answers, in two tables: each model's demand, then its pools; -o wide adds the figures the
    // sizing used that the tables leave out (the hold on a burst's capacity, a pool's cold start, whether it is metered).
    private static readonly Column<ModelCapacitySignal>[] Demand =
    [
        new("MODEL", m => m.Model),
        new("WINDOW S", m => Format.Number(m.WindowSeconds, 0)),
        new("PROMPT TOK/S", m => Format.Number(m.PromptTokensPerSecond, 1)),
        new("PEAK PROMPT TOK/S", m => Format.Number(m.PeakPromptTokensPerSecond, 1)),
        new("PEAK LOOKBACK S", m => Format.Number(m.PeakLookbackSeconds, 0), WideOnly: true),
        new("OUTPUT TOK/S", m => Format.Number(m.OutputTokensPerSecond, 1)),
        new("QUEUED PROMPT", m => Format.Number(m.QueuedPromptTokens)),
        new("QUEUED OUTPUT", m => Format.Number(m.QueuedOutputTokens)),
        new("TTFT ATTAINMENT", m => m.HasTtftAttainment ? Format.Percent(m.TtftAttainment) : "-"),
    ];

    private static readonly Column<(string Model, PoolCapacity Pool)>[] Pools =
    [
        new("MODEL", p => p.Model),
        new("POOL", p => p.Pool.Pool),
        new("PRODUCT", p => p.Pool.Product),
        new("REPLICAS", p => Format.Number(p.Pool.Replicas)),
        new("WANTED", p => Format.Number(p.Pool.WantedReplicas)),
        new("MAX", p => Format.Number(p.Pool.MaxReplicas)),
        new("BUSY", p => Format.Number(p.Pool.BusyReplicas, 2)),
        new("TARGET UTIL", p => Format.Percent(p.Pool.TargetUtilisation)),
        new("COLD START S", p => Format.Number(p.Pool.ColdStartSeconds, 1), WideOnly: true),
        new("METERED", p => p.Pool.Metered ? "yes" : "no", WideOnly: true),
        new("REASON", p => p.Pool.Reason),
    ];

    private static void PrintCapacity(IReadOnlyList<ModelCapacitySignal> models, string output)
    {
        Column<ModelCapacitySignal>.Tabulate(Demand, models, output).Print();
        Console.WriteLine();
        Column<(string Model, PoolCapacity Pool)>.Tabulate(Pools, models.SelectMany(m => m.Pools.Select(p => (m.Model, p))), output).Print();
    }

    private static void PrintSummary(ClusterSummary summary) => Table.PrintPairs(
    [
        ("tenants", Format.Number(summary.Tenants)),
        ("models", Format.Number(summary.Models)),
        ("nodes", Format.Number(summary.Nodes)),
        ("accelerators", $"{summary.AcceleratorsReady}/{summary.Accelerators} ready"),
        ("replicas", Format.Number(summary.Replicas)),
        ("queued jobs", Format.Number(summary.QueuedJobs)),
        ("running jobs", Format.Number(summary.RunningJobs)),
        ("completed jobs", Format.Number(summary.CompletedJobs)),
        ("prompt tokens", Format.Number(summary.PromptTokens)),
        ("completion tokens", Format.Number(summary.CompletionTokens)),
        ("cost", Format.Usd(summary.CostUsd)),
        ("placement policy", Format.OrDash(summary.PlacementPolicy)),
        ("price of waiting", summary.PlacementPolicy == "cost-aware" ? $"{Format.Usd(summary.WaitCostUsdPerSecond)} a second" : "-"),
        ("fairness policy", Format.OrDash(summary.FairnessPolicy)),
        ("batching policy", Format.OrDash(summary.BatchingPolicy)),
    ]);
}
