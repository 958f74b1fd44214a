using System.Text.Json;
using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Deploy;

/// <summary>
/// Every process keeps at least 16 thread-pool workers (docs/operations.md, "Small pods and the thread pool"): with one
/// per core, a 2-core silo under a burst stalled 0.6–1 s whenever the pool's hill climbing dropped to 2 workers.
/// </summary>
public sealed class ThreadPoolSettingsTests
{
    private const int MinWorkers = 16;

    [Theory]
    [InlineData("Scheduler.Silo")]
    [InlineData("Scheduler.Worker")]
    [InlineData("Scheduler.Standalone")]
    public void RuntimeConfig_KeepsAtLeastSixteenThreadPoolWorkers(string project)
    {
        var assembly = RepoPaths.Assembly(project);
        var runtimeConfig = Path.ChangeExtension(assembly, ".runtimeconfig.json");
        using var document = JsonDocument.Parse(File.ReadAllText(runtimeConfig));
        var properties = document.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");

        Assert.True(properties.TryGetProperty("System.Threading.ThreadPool.MinThreads", out var minThreads), $"{runtimeConfig} sets no thread-pool minimum");
        Assert.True(minThreads.GetInt32() >= MinWorkers, $"{runtimeConfig}: minimum {minThreads.GetInt32()} workers");
    }

    [Fact]
    public void TestHost_WhichHostsSilos_KeepsAtLeastSixteenThreadPoolWorkers()
    {
        ThreadPool.GetMinThreads(out var workers, out _);

        Assert.True(workers >= MinWorkers, $"the test host keeps {workers} workers");
    }
}
