using Scheduler.Grains.Tenants;

namespace Scheduler.Tests.Grains;

public sealed class TenantJobsTests
{
    private static readonly DateTimeOffset At = new(2026, 12, 6, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void AcceptedBy_KnowsAnUnfinishedJobsAcceptance_UntilItEndsOrIsWithdrawn()
    {
        var jobs = new TenantJobs();
        jobs.Accept("ends", At);
        jobs.Accept("withdrawn", At);
        jobs.Accept("later", At.AddMinutes(1));

        Assert.True(jobs.AcceptedBy("ends", At));
        Assert.False(jobs.AcceptedBy("later", At));
        Assert.True(jobs.AcceptedBy("later", At.AddMinutes(1)));
        Assert.False(jobs.AcceptedBy("unknown", At.AddDays(1)));

        jobs.Admit("ends");
        Assert.True(jobs.AcceptedBy("ends", At));
        jobs.End("ends");
        jobs.Withdraw("withdrawn");
        Assert.Equal(["later"], jobs.AcceptedAt.Keys);
    }

    [Fact]
    public void DateUndated_GivesJobsOfAnEarlierStateTheTimeGiven_AndKeepsTheTimesKnown()
    {
        // A state stored before acceptance times were kept: its jobs are aged from when the tenant first saw them.
        var jobs = new TenantJobs { Queued = new(StringComparer.Ordinal) { "old-queued" }, Running = new(StringComparer.Ordinal) { "old-running" } };
        jobs.Accept("new", At);

        Assert.True(jobs.DateUndated(At.AddHours(1)));
        Assert.False(jobs.DateUndated(At.AddHours(2)));

        Assert.Equal(At, jobs.AcceptedAt["new"]);
        Assert.Equal(At.AddHours(1), jobs.AcceptedAt["old-queued"]);
        Assert.Equal(At.AddHours(1), jobs.AcceptedAt["old-running"]);
    }

    [Fact]
    public void Admit_AfterTheJobEnded_ChangesNothing()
    {
        var jobs = new TenantJobs();
        jobs.Accept("j", At);

        Assert.True(jobs.End("j"));
        jobs.Admit("j");

        Assert.Empty(jobs.Queued);
        Assert.Empty(jobs.Running);
    }

    [Fact]
    public void AdmitAndEnd_Repeated_CountOnce()
    {
        var jobs = new TenantJobs();
        jobs.Accept("j", At);
        jobs.Admit("j");
        jobs.Admit("j");
        Assert.Equal((0, 1), (jobs.Queued.Count, jobs.Running.Count));

        Assert.True(jobs.End("j"));
        Assert.False(jobs.End("j"));
        Assert.Empty(jobs.Running);
    }

    [Fact]
    public void End_OfAJobNeverSeen_IsCountedOnce()
    {
        // Accepted by an earlier activation whose state was not written: its end still counts, once.
        var jobs = new TenantJobs();

        Assert.True(jobs.End("earlier"));
        Assert.False(jobs.End("earlier"));
    }

    [Fact]
    public void Withdraw_GivesTheQueuedPlaceBack()
    {
        var jobs = new TenantJobs();
        jobs.Accept("j", At);
        jobs.Withdraw("j");

        Assert.Empty(jobs.Queued);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Notices_InAnyOrderWithRepeats_LeaveEachJobInItsTrueState_AndCountEachEndOnce(int seed)
    {
        // Property: whatever the order and repetition of admissions and ends after the jobs were accepted, the sets
        // end up holding exactly the jobs not ended, split by whether they were admitted, and each end counts once.
        var random = new Random(seed);
        for (var trial = 0; trial < 500; trial++)
        {
            var truth = Enumerable.Range(0, random.Next(1, 20))
                .Select(i => (Id: "job-" + i, Admitted: random.Next(3) > 0, Ended: random.Next(3) > 0))
                .ToArray();
            var notices = truth
                .SelectMany(job => Enumerable.Repeat((job.Id, Admit: true), job.Admitted ? random.Next(1, 4) : 0)
                    .Concat(Enumerable.Repeat((job.Id, Admit: false), job.Ended ? random.Next(1, 4) : 0)))
                .OrderBy(_ => random.Next())
                .ToArray();
            var jobs = new TenantJobs();
            foreach (var job in truth)
            {
                jobs.Accept(job.Id, At);
            }

            var counted = 0;
            foreach (var (id, admit) in notices)
            {
                if (admit)
                {
                    jobs.Admit(id);
                }
                else if (jobs.End(id))
                {
                    counted++;
                }
            }

            Assert.Equal(truth.Where(j => !j.Ended && !j.Admitted).Select(j => j.Id).Order(), jobs.Queued.Order());
            Assert.Equal(truth.Where(j => !j.Ended && j.Admitted).Select(j => j.Id).Order(), jobs.Running.Order());
            Assert.Equal(truth.Count(j => j.Ended), counted);
        }
    }
}
