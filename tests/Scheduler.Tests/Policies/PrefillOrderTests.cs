using Scheduler.Policies.Profiles;

namespace Scheduler.Tests.Policies;

public sealed class PrefillOrderTests
{
    [Fact]
    public void InsertionIndex_LowerRankGoesAhead_EqualRanksKeepAdmissionOrder()
    {
        var batch = new List<(string Id, double Rank)>();
        foreach (var (id, rank) in new[] { ("f0", 0.0), ("f1", 1.0), ("f2", 2.0), ("light", 0.0), ("f3", 1.0), ("heavy", 0.5) })
        {
            batch.Insert(PrefillOrder.InsertionIndex(batch, rank, s => s.Rank), (id, rank));
        }

        Assert.Equal(["f0", "light", "heavy", "f1", "f3", "f2"], batch.Select(s => s.Id));
    }

    [Fact]
    public void InsertionIndex_AllRanksEqual_IsAdmissionOrder()
    {
        var batch = new List<double> { 0, 0, 0 };

        Assert.Equal(3, PrefillOrder.InsertionIndex(batch, 0, r => r));
        Assert.Equal(0, PrefillOrder.InsertionIndex(new List<double>(), 5, r => r));
    }
}
