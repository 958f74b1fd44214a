using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Options;
using Scheduler.Protos.V1;
using Scheduler.Silo.Api;
using Scheduler.Silo.Hosting;
using Scheduler.Silo.Models;

namespace Scheduler.Standalone;

/// <summary>
/// The standalone scheduler's self-demonstration: streams one job's tokens, runs a short mixed load from two tenants
/// through the real gRPC front door, and prints what each tenant used and what each accelerator did.
/// </summary>
internal static class DemoRunner
{
    public static async Task RunAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var adminKey = services.GetRequiredService<IOptions<ApiOptions>>().Value.AdminApiKey;
        // The catalog's first model: the one the embedded fleet serves unless a node names another.
        var model = services.GetRequiredService<IOptions<ModelCatalogOptions>>().Value.FirstModel();
        var address = services.GetRequiredService<ListeningAddresses>().Grpc;
        using var channel = GrpcChannel.ForAddress(address);
        var inference = new InferenceService.InferenceServiceClient(channel);
        var admin = new AdminService.AdminServiceClient(channel);
        var tenants = services.GetRequiredService<IOptions<TenantSeedingOptions>>().Value.Tenants.Where(t => t.ApiKey.Length > 0).ToList();
        if (tenants.Count == 0 || model is null)
        {
            Console.WriteLine($"demo: no {(model is null ? "model" : "tenant with an API key")} is configured; nothing to show.");
            return;
        }

        await WaitForAReplica(admin, Auth(adminKey), model, cancellationToken);
        Console.WriteLine($"demo: streaming one job as tenant '{tenants[0].Id}':");
        await StreamOne(inference, Auth(tenants[0].ApiKey), model, cancellationToken);

        Console.WriteLine($"demo: {tenants.Count} tenants submit 60 jobs with mixed prompt and output lengths...");
        var watch = Stopwatch.StartNew();
        var jobs = Enumerable.Range(0, 60).Select(i => RunQuiet(inference, Auth(tenants[i % tenants.Count].ApiKey), model, i, cancellationToken));
        var results = await Task.WhenAll(jobs);
        Console.WriteLine($"demo: {results.Count(r => r)} of {results.Length} jobs completed in {watch.Elapsed.TotalSeconds:0.0} s");

        await PrintSummary(admin, Auth(adminKey), cancellationToken);
    }

    private static async Task StreamOne(InferenceService.InferenceServiceClient client, Metadata auth, string model, CancellationToken cancellationToken)
    {
        var request = new SubmitJobRequest { Model = model, Prompt = "Explain continuous batching to a new engineer in one paragraph.", MaxTokens = 40 };
        using var call = client.StreamJob(request, auth, cancellationToken: cancellationToken);
        await foreach (var e in call.ResponseStream.ReadAllAsync(cancellationToken))
        {
            switch (e.EventCase)
            {
                case JobEvent.EventOneofCase.Admitted:
                    Console.Write($"  [admitted to {e.Admitted.Placement.ReplicaId} ({e.Admitted.Placement.AcceleratorProduct})]\n  ");
                    break;
                case JobEvent.EventOneofCase.Tokens:
                    Console.Write(e.Tokens.Text);
                    break;
                case JobEvent.EventOneofCase.Completed:
                    var u = e.Completed.Usage;
                    Console.WriteLine($"\n  [completed: {u.PromptTokens} prompt + {u.CompletionTokens} completion tokens, TTFT {u.TtftMs:0} ms, total {u.TotalMs:0} ms, ${u.CostUsd:0.000000}]");
                    break;
                case JobEvent.EventOneofCase.Failed:
                    Console.WriteLine($"\n  [failed: {e.Failed.Error}]");
                    break;
            }
        }
    }

    private static async Task<bool> RunQuiet(InferenceService.InferenceServiceClient client, Metadata auth, string model, int i, CancellationToken cancellationToken)
    {
        var request = new SubmitJobRequest
        {
            Model = model,
            Prompt = string.Concat(Enumerable.Repeat("Summarise the quarterly report for the board. ", 1 + (i % 7) * 5)),
            MaxTokens = 8 + (i * 13 % 56),
        };
        using var call = client.StreamJob(request, auth, cancellationToken: cancellationToken);
        var completed = false;
        await foreach (var e in call.ResponseStream.ReadAllAsync(cancellationToken))
        {
            completed |= e.EventCase == JobEvent.EventOneofCase.Completed;
        }

        return completed;
    }

    /// <summary>With the embedded fleet off, nothing serves the model until a worker registers: the demo says so and
    /// waits, rather than streaming a job that sits queued without a word.</summary>
    private static async Task WaitForAReplica(AdminService.AdminServiceClient admin, Metadata auth, string model, CancellationToken cancellationToken)
    {
        var told = false;
        while ((await admin.ListModelsAsync(new ListModelsRequest(), auth, cancellationToken: cancellationToken)).Models.FirstOrDefault(m => m.Name == model)?.Replicas is not > 0)
        {
            if (!told)
            {
                Console.WriteLine($"demo: no worker serves '{model}' yet (is Scheduler:EmbeddedFleet:Enabled false?); waiting for one to register (README: \"A worker node can also run as its own process\")...");
                told = true;
            }

            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        }
    }

    private static async Task PrintSummary(AdminService.AdminServiceClient admin, Metadata auth, CancellationToken cancellationToken)
    {
        var tenants = await admin.ListTenantsAsync(new ListTenantsRequest(), auth, cancellationToken: cancellationToken);
        Console.WriteLine();

        // Every job the tenants ran, so the streamed one too: 61 after the 60, which read as a miscount.
        Console.WriteLine("  what each tenant used (the streamed job included):");
        Console.WriteLine($"  {"tenant",-10} {"jobs",6} {"prompt tok",11} {"output tok",11} {"cost $",10}");
        foreach (var t in tenants.Tenants)
        {
            Console.WriteLine($"  {t.TenantId,-10} {t.Usage.JobsCompleted,6} {t.Usage.PromptTokens,11} {t.Usage.CompletionTokens,11} {t.Usage.CostUsd,10:0.00000}");
        }

        var replicas = await admin.ListReplicasAsync(new ListReplicasRequest(), auth, cancellationToken: cancellationToken);
        Console.WriteLine();
        Console.WriteLine($"  {"replica",-30} {"product",-7} {"admitted",8} {"into running batch",18} {"peak seqs",9} {"tok/s",8}");
        foreach (var r in replicas.Replicas.OrderBy(r => r.ReplicaId, StringComparer.Ordinal))
        {
            Console.WriteLine($"  {r.ReplicaId,-30} {r.Product,-7} {r.Admissions,8} {r.AdmissionsIntoRunningBatch,18} {r.EnginePeakSequences,9} {r.MeasuredOutputTokensPerSecond,8:0}");
        }

        var summary = await admin.GetClusterSummaryAsync(new GetClusterSummaryRequest(), auth, cancellationToken: cancellationToken);
        Console.WriteLine();
        Console.WriteLine($"  placement '{summary.PlacementPolicy}', fairness '{summary.FairnessPolicy}', batching '{summary.BatchingPolicy}'.");
        Console.WriteLine(summary.PlacementPolicy == "cost-aware"
            ? "  cost-aware placement sends each job to the cheapest replica predicted to meet its TTFT objective,\n" +
              $"  its wait for the first token priced at ${summary.WaitCostUsdPerSecond.ToString("0.######", CultureInfo.InvariantCulture)} a second;\n" +
              "  compare a baseline with: -- --demo --Scheduler:Scheduling:PlacementPolicy=round-robin"
            : "  compare the total cost and time above with the default placement: run the demo without that option.");
        Console.WriteLine();
    }

    private static Metadata Auth(string key) => new() { { "authorization", "Bearer " + key } };
}
