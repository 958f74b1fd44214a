using System.Globalization;
using System.Text;
using Grpc.Core;
using Scheduler.Bench.Harness;
using Scheduler.Protos.V1;

namespace Scheduler.Bench.SchedulerPath;

/// <summary>
/// <c>--mode openai</c>: the time to first token of the same job through the OpenAI-compatible HTTP API and through
/// gRPC StreamJob, one silo, one run, the two calls alternating so that drift in the machine's load falls on both alike.
/// The target is HTTP p50 ÷ gRPC p50 ≤ 1.2.
/// </summary>
internal static class OpenAiComparison
{
    public static async Task<string> RunAsync(BenchSettings settings, Action<string> log, CancellationToken cancellationToken)
    {
        log("openai: starting the silo and its embedded fleet");
        await using var silo = await EmbeddedSilo.StartAsync(settings, cancellationToken);
        using var channel = BenchChannels.For(silo.Address);
        await SchedulerBenchmark.WaitForReplicas(
            new AdminService.AdminServiceClient(channel), new Metadata { { "authorization", "Bearer " + EmbeddedSilo.AdminKey } }, cancellationToken);
        using var http = new HttpClient { BaseAddress = new Uri(silo.OpenAiAddress) };
        var grpc = new StreamJobCaller(new InferenceService.InferenceServiceClient(channel), EmbeddedSilo.TenantKey, settings.PromptTokens, settings.MaxTokens);
        var openAi = new OpenAiStreamCaller(http, EmbeddedSilo.TenantKey, settings.PromptTokens, settings.MaxTokens);

        log($"openai: warm-up {settings.JobWarmUp} jobs each way, then {settings.JobSequential} sequential jobs each way, alternating");
        for (var i = 0; i < settings.JobWarmUp; i++)
        {
            await grpc.Call(cancellationToken);
            await openAi.Call(cancellationToken);
        }

        var grpcFirst = new List<long>(settings.JobSequential);
        var httpFirst = new List<long>(settings.JobSequential);
        var grpcTotal = new List<long>(settings.JobSequential);
        var httpTotal = new List<long>(settings.JobSequential);
        for (var i = 0; i < settings.JobSequential; i++)
        {
            // Which goes first alternates too: neither path always follows the other's job.
            CallTiming g, h;
            if (i % 2 == 0)
            {
                g = await grpc.Call(cancellationToken);
                h = await openAi.Call(cancellationToken);
            }
            else
            {
                h = await openAi.Call(cancellationToken);
                g = await grpc.Call(cancellationToken);
            }

            grpcFirst.Add(g.FirstTicks);
            grpcTotal.Add(g.TotalTicks);
            httpFirst.Add(h.FirstTicks);
            httpTotal.Add(h.TotalTicks);
        }

        return Markdown(settings, LatencySummary.Of(grpcFirst), LatencySummary.Of(httpFirst), LatencySummary.Of(grpcTotal), LatencySummary.Of(httpTotal));
    }

    private static string Markdown(BenchSettings settings, LatencySummary grpcFirst, LatencySummary httpFirst, LatencySummary grpcTotal, LatencySummary httpTotal)
    {
        static string Ms(double us) => (us / 1000).ToString("0.000", CultureInfo.InvariantCulture);
        var ratio = httpFirst.P50Us / grpcFirst.P50Us;
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"## OpenAI-compatible HTTP API vs gRPC: time to first token ({DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC)");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"{settings.JobSequential} sequential jobs each way, alternating, after {settings.JobWarmUp} warm-up each; {settings.PromptTokens}-token prompt, max_tokens {settings.MaxTokens}, streamed; {EmbeddedSilo.FleetDescription(settings)}.");
        text.AppendLine();
        text.AppendLine("| path | TTFT p50 ms | TTFT p90 ms | TTFT p99 ms | total p50 ms |");
        text.AppendLine("| --- | ---: | ---: | ---: | ---: |");
        text.AppendLine(CultureInfo.InvariantCulture, $"| gRPC StreamJob | {Ms(grpcFirst.P50Us)} | {Ms(grpcFirst.P90Us)} | {Ms(grpcFirst.P99Us)} | {Ms(grpcTotal.P50Us)} |");
        text.AppendLine(CultureInfo.InvariantCulture, $"| HTTP POST /v1/completions (SSE) | {Ms(httpFirst.P50Us)} | {Ms(httpFirst.P90Us)} | {Ms(httpFirst.P99Us)} | {Ms(httpTotal.P50Us)} |");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"TTFT p50 HTTP ÷ gRPC = **{ratio:0.00}** (target ≤ 1.2: {(ratio <= 1.2 ? "met" : "NOT met")}).");
        return text.ToString();
    }
}
