using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Scheduler.Tests.EndToEnd;
using Scheduler.Tests.Faults;
using Scheduler.Worker.Hosting;
using Scheduler.Worker.Registration;
using Xunit.Abstractions;

namespace Scheduler.Tests.Worker.Registration;

/// <summary>
/// A registered worker whose node token the scheduler starts refusing (an operator rotated the silos' Scheduler:NodeToken
/// and not the worker's) says so at error level, naming the setting, and goes back to registering, so it comes back by
/// itself once the tokens agree again. Before, each refused heartbeat went down the outage path: one warning, then "the
/// scheduler is still unreachable" every minute — false, the scheduler answered — and heartbeats for ever, never a
/// registration. A silo process restarted on its ports with another token and back; the worker in this process (so its
/// 60 s retry of a refused registration can be shortened), over real gRPC.
/// </summary>
public sealed class NodeTokenRotatedTests(ITestOutputHelper output)
{
    private const string WorkerToken = "rotated-node-token-1";
    private const string RotatedToken = "rotated-node-token-2";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task SilosTokenRotated_TheWorkerSaysItsTokenIsRefused_AndRegistersOnceTheTokensAgreeAgain()
    {
        var silo = SiloProcess.Start(0, SiloArgs(WorkerToken));
        SiloProcess? rotated = null;
        SiloProcess? restored = null;
        WebApplication? worker = null;
        using var logs = new CapturedLogs();
        try
        {
            await FaultCluster.WaitServing(silo, Timeout);
            var options = new WorkerNodeOptions { NodeId = "rotated-node", NodeToken = WorkerToken, SchedulerAddress = silo.Address, SpeedUp = "instant", DrainTimeoutSeconds = 0 };
            options.Accelerators.Add(new AcceleratorOptions { Model = "rotated-model" });
            worker = WorkerNodeHost.Build(options, logging => logging.AddProvider(logs));
            worker.Services.GetServices<IHostedService>().OfType<SchedulerRegistration>().Single().ConfigurationRefusedRetry = TimeSpan.FromSeconds(1);
            await worker.StartAsync();
            await Polling.Until(() => Lines(logs, "registered with").Count == 1, "the worker registered", Timeout, TimeSpan.FromMilliseconds(100));

            // The silos' token rotated, the worker's not.
            silo.Kill();
            using (var exit = new CancellationTokenSource(Timeout))
            {
                await silo.WaitForExitAsync(exit.Token);
            }

            rotated = SiloProcess.StartInPlaceOf(silo, 1, SiloArgs(RotatedToken));
            await FaultCluster.WaitServing(rotated, Timeout);
            await Polling.Until(() => logs.At(LogLevel.Error).Any(m => m.Contains("refuses its node token on a heartbeat", StringComparison.Ordinal)),
                "the refused heartbeat is an error", Timeout, TimeSpan.FromMilliseconds(100));

            // Registering again, refused too, each try its own error line naming the setting (about one a second here).
            await Polling.Until(() => logs.At(LogLevel.Error).Count(m => m.Contains("refuses its node token (attempt", StringComparison.Ordinal)) >= 2,
                "the worker registers again, and is refused", Timeout, TimeSpan.FromMilliseconds(100));
            var refusals = logs.At(LogLevel.Error).Where(m => m.Contains("refuses its node token", StringComparison.Ordinal)).ToList();
            Assert.All(refusals, m => Assert.Contains("Worker:NodeToken", m, StringComparison.Ordinal));
            Assert.All(refusals, m => Assert.DoesNotContain("rotated-node-token", m, StringComparison.Ordinal));

            // A refusal is an answer: no heartbeat refused for its token is told as a failed call of an outage.
            Assert.DoesNotContain(logs.Messages, m => m.Contains("Heartbeat of node", StringComparison.Ordinal) && m.Contains("Unauthenticated", StringComparison.Ordinal));
            Assert.DoesNotContain(logs.Messages, m => m.Contains("still unreachable", StringComparison.Ordinal));

            // The silos' token back to the worker's: it registers by itself.
            rotated.Kill();
            using (var exit = new CancellationTokenSource(Timeout))
            {
                await rotated.WaitForExitAsync(exit.Token);
            }

            restored = SiloProcess.StartInPlaceOf(rotated, 2, SiloArgs(WorkerToken));
            await Polling.Until(() => Lines(logs, "registered with").Count == 2, "the worker registered again", Timeout, TimeSpan.FromMilliseconds(100));
            output.WriteLine(string.Join('\n', logs.Messages));
        }
        finally
        {
            if (worker is not null)
            {
                await worker.StopAsync();
                await worker.DisposeAsync();
            }

            foreach (var process in new[] { silo, rotated, restored })
            {
                if (process is not null)
                {
                    await process.DisposeAsync();
                }
            }
        }
    }

    private static string[] SiloArgs(string nodeToken) =>
    [
        $"--Scheduler:NodeToken={nodeToken}", "--Scheduler:AdminApiKey=rotated-admin-key", "--Scheduler:EmbeddedFleet:Enabled=false",
        "--Scheduler:Models:0:Name=rotated-model", "--Scheduler:Scheduling:HeartbeatInterval=00:00:00.5",
        "--Scheduler:Scheduling:NodeLease=00:00:03", "--Logging:LogLevel:Default=Warning",
    ];

    private static List<string> Lines(CapturedLogs logs, string text) =>
        [.. logs.Messages.Where(m => m.Contains(text, StringComparison.Ordinal))];
}
