using System.Diagnostics;
using System.Globalization;
using System.Text;
using Grpc.Core;
using Scheduler.Bench.Harness;
using Scheduler.Protos.V1;

namespace Scheduler.Bench.SchedulerPath;

/// <summary>
/// <c>--mode idempotency</c>: what a keyed submission costs once the tenant holds many keys. The tenant is first given
/// <see cref="BenchSettings.IdempotencyKeys"/> keys (keyed SubmitJob calls, 16 at a time), then 16 concurrent
/// callers send SubmitJob for a fixed window three ways: without a key, with a fresh key each, and repeating a key the
/// tenant already holds (a duplicate). A keyed submission's cost should not depend on how many keys the tenant holds.
/// </summary>
internal static class IdempotencyBenchmark
{
    private const int FillCallers = 16;

    public static async Task<string> RunAsync(BenchSettings settings, Action<string> log, CancellationToken cancellationToken)
    {
        log($"idempotency: starting the silo ({(settings.Redis is { Length: > 0 } r ? "redis " + r : "embedded default, state in memory")})");
        await using var silo = await EmbeddedSilo.StartAsync(settings, cancellationToken);
        using var channel = BenchChannels.For(silo.Address);
        await SchedulerBenchmark.WaitForReplicas(
            new AdminService.AdminServiceClient(channel), new Metadata { { "authorization", "Bearer " + EmbeddedSilo.AdminKey } }, cancellationToken);
        var client = new InferenceService.InferenceServiceClient(channel);
        var auth = new Metadata { { "authorization", "Bearer " + EmbeddedSilo.TenantKey } };
        var template = StreamJobCaller.BuildRequest(settings.PromptTokens, settings.MaxTokens);

        var run = Guid.NewGuid().ToString("N")[..8];
        var next = -1;
        async Task<CallTiming> Keyed(CancellationToken ct)
        {
            var request = template.Clone();
            request.IdempotencyKey = $"{run}-{Interlocked.Increment(ref next)}";
            var start = Stopwatch.GetTimestamp();
            await client.SubmitJobAsync(request, auth, cancellationToken: ct);
            return CallTiming.Unary(Stopwatch.GetTimestamp() - start);
        }

        async Task<CallTiming> Unkeyed(CancellationToken ct)
        {
            var start = Stopwatch.GetTimestamp();
            await client.SubmitJobAsync(template, auth, cancellationToken: ct);
            return CallTiming.Unary(Stopwatch.GetTimestamp() - start);
        }

        var filled = settings.IdempotencyKeys;
        var repeat = 0;
        async Task<CallTiming> Repeated(CancellationToken ct)
        {
            var request = template.Clone();
            request.IdempotencyKey = $"{run}-{(filled - 1) - (Interlocked.Increment(ref repeat) % Math.Min(filled, 1000))}";
            var start = Stopwatch.GetTimestamp();
            var job = await client.SubmitJobAsync(request, auth, cancellationToken: ct);
            return string.IsNullOrEmpty(job.JobId) ? throw new InvalidOperationException("a duplicate came back without a job id") : CallTiming.Unary(Stopwatch.GetTimestamp() - start);
        }

        log($"idempotency: giving the tenant {filled} keys ({FillCallers} keyed submissions at a time)");
        var fillStart = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, FillCallers).Select(async caller =>
        {
            for (var i = caller; i < filled; i += FillCallers)
            {
                await Keyed(cancellationToken);
            }
        }));
        var fillSeconds = Stopwatch.GetElapsedTime(fillStart).TotalSeconds;
        log($"idempotency: {filled} keys in {fillSeconds:0.0} s");

        var phases = new List<(string Name, ConcurrentSamples Samples)>();
        foreach (var (name, call) in new (string, TimedCall)[] { ("no key", Unkeyed), ("a fresh key", Keyed), ("a key the tenant holds (duplicate)", Repeated) })
        {
            log($"idempotency: {FillCallers} concurrent SubmitJob with {name}, {settings.WarmUp.TotalSeconds:0} s warm-up + {settings.Duration.TotalSeconds:0} s measured");
            phases.Add((name, await LoadRunner.Concurrent(call, FillCallers, settings.WarmUp, settings.Duration, cancellationToken)));
        }

        return Markdown(settings, filled, fillSeconds, phases);
    }

    private static string Markdown(BenchSettings settings, int filled, double fillSeconds, List<(string Name, ConcurrentSamples Samples)> phases)
    {
        static string Ms(double us) => (us / 1000).ToString("0.00", CultureInfo.InvariantCulture);
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"## Keyed submissions once a tenant holds {filled:N0} keys ({DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC)");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"{(settings.Redis is { Length: > 0 } ? "Redis mode (one silo, local redis-server)" : "Embedded default (state in memory)")}; {EmbeddedSilo.FleetDescription(settings)}; {FillCallers} concurrent SubmitJob, {settings.Duration.TotalSeconds:0} s each after {settings.WarmUp.TotalSeconds:0} s warm-up. Filling the {filled:N0} keys took {fillSeconds:0.0} s. Load average {MachineLoad.Read()} at the end.");
        text.AppendLine();
        text.AppendLine("| SubmitJob with | calls/s | p50 ms | p90 ms | p99 ms | failed |");
        text.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: |");
        foreach (var (name, s) in phases)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {s.PerSecond:0} | {Ms(s.Total.P50Us)} | {Ms(s.Total.P90Us)} | {Ms(s.Total.P99Us)} | {s.Failed}{(s.FirstError is { } e ? " (" + e + ")" : "")} |");
        }

        return text.ToString();
    }
}
