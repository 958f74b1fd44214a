using System.CommandLine;
using Scheduler.Protos.V1;

namespace Scheduler.Cli;

/// <summary>Admin commands on the fleet: models, accelerators, replicas, the cluster summary, cordoning.</summary>
internal static class FleetCommands
{
    /// <summary>Adds the fleet commands to <paramref name="root"/>.</summary>
    public static void AddTo(RootCommand root)
    {
        var models = new Command("models", "List models with their limits, replicas and queued jobs");
        Actions.SetAdminAction(models, async (admin, _, cancellationToken) =>
            PrintModels(await admin.ListModelsAsync(cancellationToken: cancellationToken)));

        var accelerators = new Command("accelerators", "List accelerators with their state, price and utilisation");
        Actions.SetAdminAction(accelerators, async (admin, _, cancellationToken) =>
            PrintAccelerators(await admin.ListAcceleratorsAsync(cancellationToken: cancellationToken)));

        var summary = new Command("summary", "Show the cluster's totals and policies");
        Actions.SetAdminAction(summary, async (admin, _, cancellationToken) =>
            PrintSummary(await admin.GetClusterSummaryAsync(cancellationToken: cancellationToken)));

        root.Add(models);
        root.Add(accelerators);
        root.Add(Replicas());
        root.Add(summary);
        root.Add(Capacity());
        root.Add(Cordon("cordon", "Cordon an accelerator: it takes no new sequences, those running finish", cordon: true));
        root.Add(Cordon("uncordon", "Uncordon an accelerator: it takes new sequences again", cordon: false));
    }

    private static Command Replicas()
    {
        var model = new Option<string>("--model") { Description = "Only this model's replicas" };
        var command = new Command("replicas", "List model replicas with their running batches") { model };
        Actions.SetAdminAction(command, async (admin, parse, cancellationToken) =>
            PrintReplicas(await admin.ListReplicasAsync(parse.GetValue(model), cancellationToken: cancellationToken)));
        return command;
    }

    private static Command Capacity()
    {
        var model = new Option<string>("--model") { Description = "Only this model" };
        var command = new Command("capacity", "Show the replicas the scheduler wants per model and accelerator pool, and the demand it sized them for") { model };
        Actions.SetAdminAction(command, async (admin, parse, cancellationToken) =>
            PrintCapacity(await admin.GetCapacityAsync(parse.GetValue(model), cancellationToken: cancellationToken)));
        return command;
    }

    private static Command Cordon(string name, string description, bool cordon)
    {
        var id = new Argument<string>("accelerator-id") { Description = "The accelerator's id" };
        var command = new Command(name, description) { id };
        Actions.SetAdminAction(command, async (admin, parse, cancellationToken) =>
        {
            var acceleratorId = parse.GetRequiredValue(id);
            var accelerator = cordon
                ? await admin.CordonAcceleratorAsync(acceleratorId, cancellationToken: cancellationToken)
                : await admin.UncordonAcceleratorAsync(acceleratorId, cancellationToken: cancellationToken);
            PrintAccelerators([accelerator]);
        });
        return command;
    }

    private static void PrintModels(IReadOnlyList<Model> models)
    {
        var table = new Table("MODEL", "CONTEXT", "MAX OUTPUT", "TOKENIZER", "TTFT SLO MS", "REPLICAS", "QUEUED");
        foreach (var model in models)
        {
            table.Add(
                model.Name,
                Format.Number(model.MaxContextTokens),
                Format.Number(model.MaxOutputTokens),
                Format.OrDash(model.Tokenizer),
                Format.Number(model.DefaultTtftObjectiveMs),
                Format.Number(model.Replicas),
                Format.Number(model.QueuedJobs));
        }

        table.Print();
    }

    private static void PrintAccelerators(IReadOnlyList<Accelerator> accelerators)
    {
        var table = new Table(
            "ACCELERATOR", "NODE", "KIND", "PRODUCT", "MEM GIB", "$/HOUR", "$/M IN", "$/M OUT", "WATTS",
            "STATE", "UTIL", "REPLICAS");
        foreach (var accelerator in accelerators)
        {
            table.Add(
                accelerator.AcceleratorId,
                accelerator.NodeId,
                accelerator.Kind,
                accelerator.Product,
                Format.GiB(accelerator.MemoryBytes),
                Format.Number(accelerator.PricePerHourUsd, 2),
                Format.Number(accelerator.PricePerMillionInputTokensUsd, 2),
                Format.Number(accelerator.PricePerMillionOutputTokensUsd, 2),
                Format.Number(accelerator.PowerWatts, 0),
                accelerator.State,
                Format.Percent(accelerator.Utilization),
                Format.Number(accelerator.ReplicaIds.Count));
        }

        table.Print();
    }

    private static void PrintReplicas(IReadOnlyList<Replica> replicas)
    {
        var table = new Table(
            "REPLICA", "MODEL", "ACCELERATOR", "PRODUCT", "STATE", "SEQS", "FREE KV", "ENGINE SEQS", "ENGINE KV",
            "TOK/S", "ADMISSIONS", "INTO RUNNING", "REJECTED");
        foreach (var replica in replicas)
        {
            table.Add(
                replica.ReplicaId,
                replica.Model,
                replica.AcceleratorId,
                replica.Product,
                replica.State,
                $"{replica.RunningSequences}/{replica.MaxSequences}",
                $"{replica.FreeKvTokens}/{replica.KvCapacityTokens}",
                Format.Number(replica.EngineRunningSequences),
                Format.Number(replica.EngineKvTokensUsed),
                Format.Number(replica.MeasuredOutputTokensPerSecond, 1),
                Format.Number(replica.Admissions),
                Format.Number(replica.AdmissionsIntoRunningBatch),
                Format.Number(replica.EngineRejectedAdmissions));
        }

        table.Print();
    }

    private static void PrintCapacity(IReadOnlyList<ModelCapacitySignal> models)
    {
        var demand = new Table("MODEL", "WINDOW S", "PROMPT TOK/S", "OUTPUT TOK/S", "QUEUED PROMPT", "QUEUED OUTPUT", "TTFT ATTAINMENT");
        var pools = new Table("MODEL", "POOL", "REPLICAS", "WANTED", "MAX", "BUSY", "TARGET UTIL", "REASON");
        foreach (var model in models)
        {
            demand.Add(
                model.Model,
                Format.Number(model.WindowSeconds, 0),
                Format.Number(model.PromptTokensPerSecond, 1),
                Format.Number(model.OutputTokensPerSecond, 1),
                Format.Number(model.QueuedPromptTokens),
                Format.Number(model.QueuedOutputTokens),
                model.HasTtftAttainment ? Format.Percent(model.TtftAttainment) : "-");
            foreach (var pool in model.Pools)
            {
                pools.Add(
                    model.Model,
                    pool.Pool,
                    Format.Number(pool.Replicas),
                    Format.Number(pool.WantedReplicas),
                    Format.Number(pool.MaxReplicas),
                    Format.Number(pool.BusyReplicas, 2),
                    Format.Percent(pool.TargetUtilisation),
                    pool.Reason);
            }
        }

        demand.Print();
        Console.WriteLine();
        pools.Print();
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
        ("fairness policy", Format.OrDash(summary.FairnessPolicy)),
        ("batching policy", Format.OrDash(summary.BatchingPolicy)),
    ]);
}
