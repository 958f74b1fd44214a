using Scheduler.Abstractions.Jobs;
using Scheduler.Grains;
using static Scheduler.Tests.Grains.GrainTestKit;

namespace Scheduler.Tests.Grains;

[Collection(GrainClusterCollection.Name)]
public sealed class GrainReferencesTests(GrainClusterFixture cluster)
{
    [Fact]
    public async Task Tenant_SameKeyTwice_ReturnsTheSameReference_WhichReachesThatGrain()
    {
        var references = new GrainReferences(cluster.Client);
        var tenantId = Unique("tenant");

        var first = references.Tenant(tenantId);
        var second = references.Tenant(tenantId);
        var other = references.Tenant(Unique("tenant"));

        Assert.Same(first, second);
        Assert.NotEqual(first, other);
        Assert.Equal(tenantId, first.GetPrimaryKeyString());
        Assert.Null(await first.Get());
    }

    [Fact]
    public async Task Job_PastItsBound_StartsOverAndStillAnswersWithAnEqualReference()
    {
        var references = new GrainReferences(cluster.Client);
        var jobId = Unique("job");
        var kept = references.Job(jobId);

        for (var i = 0; i < GrainReferences.JobLimit; i++)
        {
            references.Job($"{jobId}-{i}");
        }

        var again = references.Job(jobId);
        Assert.NotSame(kept, again);
        Assert.Equal(kept, again);
        Assert.Same(again, references.Job(jobId));
        Assert.Null(await again.Get());
    }
}
