namespace Scheduler.Tests.EndToEnd;

public sealed class FreePortTests
{
    [Fact]
    public void Next_HandsOutEachPortOnce_OutsideTheEphemeralRange()
    {
        // Test classes run in parallel and start servers seconds after asking: a port must not be handed out twice, nor
        // be one the kernel gives port-0 listeners and outgoing connections (32768–60999 by default on Linux).
        var ports = Enumerable.Range(0, 500).Select(_ => FreePort.Next()).ToArray();

        Assert.Equal(ports.Length, ports.Distinct().Count());
        Assert.All(ports, p => Assert.InRange(p, 1024, 32_767));
    }
}
