using Scheduler.Policies;
using Scheduler.Policies.Admission;
using Scheduler.Policies.Placement;
using Scheduler.Policies.Profiles;
using static Scheduler.Tests.Policies.PolicyFixtures;

namespace Scheduler.Tests.Policies.Admission;

public sealed class DeadlineExpiryTests
{
    private readonly DeadlineExpiry _expiry = new();

    private static JobDemand WithDeadline(string id, TimeSpan after, int prompt = 500, int maxTokens = 200) =>
        Job(id, prompt: prompt, maxTokens: maxTokens) with { Deadline = T0 + after };

    [Fact]
    public void FastestService_IsPrefillPlusEveryTokenOnAnIdleReplicaOfTheFastestSchedulableProfile()
    {
        var job = Job("j", prompt: 2_000, maxTokens: 300);
        var l4 = Replica("l4", AcceleratorProfiles.L4);
        var h100 = Replica("h100", AcceleratorProfiles.H100);
        AddDecodingLoad(h100, 10);   // its live batch does not matter: the estimate is for an idle replica
        var idleH100 = Replica("idle", AcceleratorProfiles.H100);
        var expectedH100 = ReplicaPrediction.TtftMs(idleH100, job) + (300 * ReplicaPrediction.TimePerOutputTokenMs(idleH100));

        Assert.Equal(expectedH100, _expiry.FastestService(job, [l4, h100]).TotalMilliseconds, 3);

        h100.Schedulable = false;
        Assert.True(_expiry.FastestService(job, [l4, h100]).TotalMilliseconds > expectedH100);
        Assert.Equal(TimeSpan.Zero, _expiry.FastestService(job, []));
    }

    [Fact]
    public void TakeExpired_JobExpiresOnceNowPlusFastestServiceExceedsItsDeadline()
    {
        ReplicaView[] replicas = [Replica("h100", AcceleratorProfiles.H100)];
        var job = WithDeadline("j", TimeSpan.FromSeconds(10));
        _expiry.Track(job, replicas);
        var latestStart = job.Deadline!.Value - _expiry.FastestService(job, replicas);

        Assert.Equal(latestStart, _expiry.NextExpiry);
        Assert.Null(_expiry.TakeExpired(latestStart));
        Assert.Equal(["j"], _expiry.TakeExpired(latestStart.AddTicks(1)));
        Assert.Equal(0, _expiry.Count);
        Assert.Null(_expiry.NextExpiry);
    }

    [Fact]
    public void TakeExpired_WithoutReplicas_ExpiresOnlyPastTheDeadline()
    {
        _expiry.Track(WithDeadline("j", TimeSpan.FromSeconds(1)), []);

        Assert.Null(_expiry.TakeExpired(T0.AddSeconds(1)));
        Assert.Equal(["j"], _expiry.TakeExpired(T0.AddSeconds(1).AddTicks(1)));
    }

    [Fact]
    public void Track_IgnoresJobsWithoutDeadline_Forget_StopsTracking_InOrderOfExpiry()
    {
        _expiry.Track(Job("none"), []);
        _expiry.Track(WithDeadline("late", TimeSpan.FromSeconds(30)), []);
        _expiry.Track(WithDeadline("admitted", TimeSpan.FromSeconds(5)), []);
        _expiry.Track(WithDeadline("early", TimeSpan.FromSeconds(10)), []);
        _expiry.Forget("admitted");

        Assert.Equal(2, _expiry.Count);
        Assert.Equal(T0.AddSeconds(10), _expiry.NextExpiry);
        Assert.Equal(["early", "late"], _expiry.TakeExpired(T0.AddHours(1)));
    }
}
