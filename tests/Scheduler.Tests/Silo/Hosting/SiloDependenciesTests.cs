using System.Text.Json;
using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Silo.Hosting;

public sealed class SiloDependenciesTests
{
    /// <summary>A silo image must not carry the worker's engines (and their native libraries): what a publish copies
    /// is what the silo's deps.json lists.</summary>
    [Fact]
    public void SiloDependencies_LeaveOutTheWorker()
    {
        var deps = Path.ChangeExtension(RepoPaths.Assembly("Scheduler.Silo"), ".deps.json");
        using var document = JsonDocument.Parse(File.ReadAllText(deps));
        var libraries = document.RootElement.GetProperty("libraries").EnumerateObject().Select(l => l.Name).ToList();

        Assert.Contains(libraries, l => l.StartsWith("Scheduler.Grains/", StringComparison.Ordinal));
        Assert.DoesNotContain(libraries, l => l.StartsWith("Scheduler.Worker/", StringComparison.Ordinal));
    }
}
