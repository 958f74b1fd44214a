using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Cli;

/// <summary>
/// <c>schedctl top --address A,B</c> outlives its silos: it reads A, moves to B when A stops, says so in each frame's
/// header, shows that no scheduler answers (naming both) while both are down instead of exiting, and reads B again
/// once a silo is back on B's address. Two real silos on loopback (hosted here, each on a fixed gRPC port so the
/// second can come back on its address); schedctl is its own process, stopped by its PID.
/// </summary>
public sealed class TopFailoverTests
{
    private const string Model = "top-failover-model";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Top_ItsSilosStopOneByOne_ItMovesToTheNext_ShowsNoneAnswering_AndReadsTheOneThatCameBack()
    {
        var (portA, portB) = (FreePort.Next(), FreePort.Next());
        LoopbackScheduler? a = await Silo(portA);
        LoopbackScheduler? b = await Silo(portB);
        var (addressA, addressB) = (a.Address, b.Address);
        Assert.Equal($"http://127.0.0.1:{portB}", addressB);
        LoopbackScheduler? back = null;
        var top = ChildProcess.Start(
            "dotnet",
            [RepoPaths.SchedctlAssembly, "--address", $"{addressA},{addressB}", "--admin-key", LoopbackScheduler.AdminKey, "top", "--interval", "0.2"],
            keepOutput: true);
        try
        {
            var readingA = await Line(top, 0, l => IsHeader(l) && l.Contains($"  {addressA}", StringComparison.Ordinal), "a frame read from A");

            await a.DisposeAsync();
            a = null;
            var readingB = await Line(top, readingA, l => IsHeader(l) && l.Contains($"  {addressB}", StringComparison.Ordinal), "a frame read from B once A stopped");

            await b.DisposeAsync();
            b = null;
            var down = await Line(top, readingB, l => IsHeader(l) && l.Contains("no scheduler answered", StringComparison.Ordinal), "a frame saying no scheduler answers");
            var status = top.Output[down + 1];
            // Tried from the one that answered last (B), round the list.
            Assert.StartsWith($"unavailable: cannot reach the scheduler at any of its 2 addresses: {addressB}: ", status, StringComparison.Ordinal);
            Assert.Contains($"; {addressA}: ", status, StringComparison.Ordinal);
            Assert.False(top.HasExited, "top exited while no silo answered");

            back = await Silo(portB);
            await Line(top, down, l => IsHeader(l) && l.Contains($"  {addressB}", StringComparison.Ordinal), "a frame read from B once it was back");
            Assert.False(top.HasExited, string.Join('\n', top.Output));
        }
        finally
        {
            await top.DisposeAsync();
            foreach (var silo in new[] { a, b, back })
            {
                if (silo is not null)
                {
                    await silo.DisposeAsync();
                }
            }
        }
    }

    private static bool IsHeader(string line) => line.StartsWith("schedctl top  ", StringComparison.Ordinal);

    private static Task<LoopbackScheduler> Silo(int grpcPort) =>
        LoopbackScheduler.StartAsync(Model, "top-tenant", "top-tenant-key", $"--Scheduler:GrpcPort={grpcPort}");

    // The index of the first line from `from` on that matches; fails, showing the output, when none does in time.
    private static async Task<int> Line(ChildProcess process, int from, Func<string, bool> match, string what)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            var lines = process.Output;
            for (var i = from; i < lines.Count; i++)
            {
                if (match(lines[i]))
                {
                    return i;
                }
            }

            Assert.True(!process.HasExited && DateTime.UtcNow < deadline, $"no {what}; top {(process.HasExited ? "exited" : "ran")}:\n{string.Join('\n', lines)}");
            await Task.Delay(100);
        }
    }
}
