using System.Diagnostics;
using Google.Protobuf;
using Scheduler.Bench.Echo.V1;
using Scheduler.Bench.Harness;

namespace Scheduler.Bench.Echo;

/// <summary>Phase 1: the bare gRPC unary echo baseline.</summary>
internal static class EchoBenchmark
{
    public static async Task<PathResult> RunAsync(BenchSettings settings, Action<string> log, CancellationToken cancellationToken)
    {
        await using var server = await EchoServer.StartAsync(cancellationToken);
        log($"echo: listening on {server.Address}");
        using var channel = BenchChannels.For(server.Address);
        var client = new V1.Echo.EchoClient(channel);

        // A payload about the size of the scheduler's request (128 token ids), so both calls move similar bytes.
        var request = new PingMessage { Payload = ByteString.CopyFrom(new byte[settings.EchoPayloadBytes]) };
        async Task<CallTiming> Ping(CancellationToken ct)
        {
            var start = Stopwatch.GetTimestamp();
            await client.PingAsync(request, cancellationToken: ct);
            return CallTiming.Unary(Stopwatch.GetTimestamp() - start);
        }

        log($"echo: warm-up {settings.EchoWarmUpCalls} calls");
        await LoadRunner.Sequential(Ping, settings.EchoWarmUpCalls, cancellationToken);

        log($"echo: {settings.Callers} concurrent callers, {settings.WarmUp.TotalSeconds:0} s warm-up + {settings.Duration.TotalSeconds:0} s measured");
        var concurrent = await LoadRunner.Concurrent(Ping, settings.Callers, settings.WarmUp, settings.Duration, cancellationToken);

        // Timed one at a time after the concurrent window, as the scheduler's jobs are (SchedulerBenchmark says why).
        log($"echo: {settings.EchoSequentialCalls} sequential calls");
        var sequential = await LoadRunner.Sequential(Ping, settings.EchoSequentialCalls, cancellationToken);
        return new PathResult(sequential, concurrent);
    }
}
