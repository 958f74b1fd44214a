using System.Text.Json;
using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Deploy;

/// <summary>
/// Every process runs its thread pool without hill climbing (docs/operations.md, "Small pods and the thread pool"): with
/// it, a 2-core silo under a burst stalled 0.6–1 s whenever hill climbing dropped the pool to 2 workers. And no process
/// raises the minimum instead: 16 workers removed the stalls too, but doubled the CPU per job on 2 cores.
/// </summary>
public sealed class ThreadPoolSettingsTests
{
    private const string HillClimbingDisable = "System.Threading.ThreadPool.HillClimbing.Disable";
    private const string MinThreads = "System.Threading.ThreadPool.MinThreads";

    [Theory]
    [InlineData("Scheduler.Silo")]
    [InlineData("Scheduler.Worker")]
    [InlineData("Scheduler.Standalone")]
    public void RuntimeConfig_TurnsHillClimbingOff_AndKeepsTheDefaultMinimum(string project)
    {
        var runtimeConfig = Path.ChangeExtension(RepoPaths.Assembly(project), ".runtimeconfig.json");
        using var document = JsonDocument.Parse(File.ReadAllText(runtimeConfig));
        var properties = document.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");

        Assert.True(properties.TryGetProperty(HillClimbingDisable, out var disable) && disable.ValueKind == JsonValueKind.True,
            $"{runtimeConfig} does not turn the thread pool's hill climbing off");
        Assert.False(properties.TryGetProperty(MinThreads, out _), $"{runtimeConfig} raises the thread-pool minimum");
    }

    [Fact]
    public void TestHost_WhichHostsSilos_RunsWithoutHillClimbing()
    {
        Assert.True(AppContext.TryGetSwitch(HillClimbingDisable, out var disabled) && disabled, "the test host runs with hill climbing");
    }
}
