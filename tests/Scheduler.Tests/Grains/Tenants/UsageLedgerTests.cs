using Scheduler.Abstractions.Tenants;
using Scheduler.Grains.Tenants;

namespace Scheduler.Tests.Grains.Tenants;

public sealed class UsageLedgerTests
{
    private static TenantUsage Usage(long completed, double cost) =>
        new(PromptTokens: 100 * completed, CompletionTokens: 10 * completed, CostUsd: cost, JobsSubmitted: completed + 1,
            JobsCompleted: completed, JobsFailed: 1, JobsCancelled: 0, JobsExpired: 0);

    [Fact]
    public void Report_TwoTenants_TotalIsTheirSum()
    {
        var ledger = new UsageLedger();

        ledger.Report("a", Usage(3, 0.25), version: 10);
        ledger.Report("b", Usage(5, 0.5), version: 10);

        Assert.Equal(new TenantUsage(800, 80, 0.75, 10, 8, 2, 0, 0), ledger.Total);
        Assert.Equal(2, ledger.Tenants);
    }

    [Fact]
    public void Report_Repeated_IsCountedOnce()
    {
        var ledger = new UsageLedger();

        Assert.True(ledger.Report("a", Usage(3, 0.25), version: 10));
        Assert.False(ledger.Report("a", Usage(3, 0.25), version: 10));

        Assert.Equal(Usage(3, 0.25), ledger.Total);
    }

    [Fact]
    public void Report_OvertakenByANewerOne_ChangesNothing()
    {
        var ledger = new UsageLedger();

        ledger.Report("a", Usage(7, 1.5), version: 20);
        Assert.False(ledger.Report("a", Usage(3, 0.25), version: 10));

        Assert.Equal(Usage(7, 1.5), ledger.Total);
    }

    [Fact]
    public void Report_Newer_ReplacesTheTenantsUsage_EvenWhenLess()
    {
        // A tenant whose silo died before its state's write comes back with less: the sum follows its own figures.
        var ledger = new UsageLedger();
        ledger.Report("a", Usage(7, 1.5), version: 10);
        ledger.Report("b", Usage(1, 0.25), version: 10);

        Assert.True(ledger.Report("a", Usage(3, 0.25), version: 11));

        Assert.Equal(new TenantUsage(400, 40, 0.5, 6, 4, 2, 0, 0), ledger.Total);
    }

    [Fact]
    public void Report_ManyCostsReportedOverAndOver_TotalIsExactlyTheSumOfTheLast()
    {
        // A double sum kept by adding each new cost and taking away the old drifts from the costs held.
        var ledger = new UsageLedger();
        var last = new Dictionary<string, double>();
        for (var version = 1; version <= 1_000; version++)
        {
            var tenant = $"t{version % 7}";
            var cost = version * 0.1;
            ledger.Report(tenant, Usage(version, cost), version);
            last[tenant] = cost;
        }

        Assert.Equal((double)last.Values.Sum(c => (decimal)c), ledger.Total.CostUsd);
    }

    [Fact]
    public void Read_AfterAReport_IsNotTaken_AndAReportAfterARead_Is()
    {
        var ledger = new UsageLedger();
        ledger.Report("a", Usage(5, 0.5), version: 10);

        // Read while the ledger was being rebuilt: older than the report, or not, it carries no version to tell.
        Assert.False(ledger.Read("a", Usage(4, 0.25)));
        Assert.True(ledger.Read("b", Usage(2, 0.25)));
        Assert.False(ledger.Read("b", Usage(2, 0.25)));
        Assert.True(ledger.Report("b", Usage(3, 0.5), version: 1));

        Assert.Equal(new TenantUsage(800, 80, 1.0, 10, 8, 2, 0, 0), ledger.Total);
    }
}
