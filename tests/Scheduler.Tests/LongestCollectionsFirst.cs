using Scheduler.Tests.EndToEnd;
using Scheduler.Tests.Faults;
using Xunit.Abstractions;

[assembly: TestCollectionOrderer("Scheduler.Tests.LongestCollectionsFirst", "Scheduler.Tests")]

namespace Scheduler.Tests;

/// <summary>
/// Starts the test collections that run longest first — the two chains of whole-cluster fault tests, then the shared
/// cluster's end-to-end tests — and the others after them in their usual order. xUnit runs only
/// maxParallelThreads tests at once (xunit.runner.json), taking collections in this order: a long chain started
/// last would keep the run going minutes after everything else had finished (it did: the fault tests ran alone for the
/// last half of CI).
/// </summary>
public sealed class LongestCollectionsFirst : ITestCollectionOrderer
{
    private static readonly string[] s_longest = [FaultCollection.Name, SiloFaultCollection.Name, SchedulerClusterCollection.Name];

    public IEnumerable<ITestCollection> OrderTestCollections(IEnumerable<ITestCollection> testCollections) =>
        testCollections.OrderBy(Rank);

    private static int Rank(ITestCollection collection)
    {
        var index = Array.IndexOf(s_longest, collection.DisplayName);
        return index < 0 ? s_longest.Length : index;
    }
}
