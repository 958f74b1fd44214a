using Grpc.Core;
using Grpc.Net.Client;
using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Tests.Faults;

namespace Scheduler.Tests.Silo.Telemetry;

/// <summary>A silo process with more tenants than OpenTelemetry's default cardinality limit (2,000 series per metric),
/// read through its /metrics. With that default, the tenants past it had no series of their own: their counts went to
/// one <c>otel_metric_overflow="true"</c> series, so per-tenant metrics disagreed with the admin API (a live probe of
/// 2,300 one-job tenants left 305 of them without a series).</summary>
public sealed class TenantSeriesTests
{
    private const int TenantCount = 2_100;

    [Fact]
    public async Task Metrics_MoreTenantsThanOpenTelemetrysDefaultLimit_EveryTenantKeepsItsOwnSeries()
    {
        // One refused submission per tenant (max_tokens 0): a tenant-labelled counter, with no worker needed.
        await using var silo = await ServingSilo(TenantCount);
        using var channel = GrpcChannel.ForAddress(silo.Address);
        using var http = new HttpClient();
        using var gate = new SemaphoreSlim(32);
        var refusals = await Task.WhenAll(Enumerable.Range(0, TenantCount - 1).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                return await RefusedAsync(channel, i);
            }
            finally
            {
                gate.Release();
            }
        }));
        Assert.All(refusals, code => Assert.Equal(StatusCode.InvalidArgument, code));

        var samples = await PrometheusScrape.ReadAsync(http, silo.HttpAddress);
        var refused = samples.Where(s => s.Name == "scheduler_submissions_refused_total").ToList();
        Assert.DoesNotContain(refused, s => s.Labels.ContainsKey("otel_metric_overflow"));
        var byTenant = refused.Where(s => s.Labels.ContainsKey("scheduler_tenant")).ToDictionary(s => s.Labels["scheduler_tenant"], s => s.Value);
        Assert.Equal(TenantCount, byTenant.Count);
        Assert.All(Enumerable.Range(0, TenantCount), i => Assert.Equal(1, byTenant.GetValueOrDefault(TenantId(i))));
    }

    [Fact]
    public async Task Metrics_TenantLabelOff_CountEveryTenantTogether_UnderTheirOtherLabels()
    {
        const int Tenants = 3;
        await using var silo = await ServingSilo(Tenants, "--Scheduler:Telemetry:TenantLabel=false");
        using var channel = GrpcChannel.ForAddress(silo.Address);
        using var http = new HttpClient();
        for (var i = 0; i < Tenants - 1; i++)
        {
            Assert.Equal(StatusCode.InvalidArgument, await RefusedAsync(channel, i));
        }

        var samples = await PrometheusScrape.ReadAsync(http, silo.HttpAddress);
        Assert.DoesNotContain(samples, s => s.Labels.ContainsKey("scheduler_tenant"));
        var refused = Assert.Single(samples, s => s.Name == "scheduler_submissions_refused_total");
        Assert.Equal(Tenants, refused.Value);
        Assert.Equal(("submit_job", "INVALID_ARGUMENT"), (refused.Labels["scheduler_door"], refused.Labels["rpc_response_status_code"]));
    }

    private static string TenantId(int i) => $"series-{i:D4}";

    /// <summary>A silo process seeding <paramref name="tenants"/> tenants, once it serves: the last tenant is seeded
    /// last, so once its submission is refused as invalid every tenant is there.</summary>
    private static async Task<SiloProcess> ServingSilo(int tenants, params string[] settings)
    {
        List<string> args = ["--Logging:LogLevel:Default=Warning", .. settings];
        for (var i = 0; i < tenants; i++)
        {
            args.Add($"--Scheduler:Tenants:{i}:Id={TenantId(i)}");
            args.Add($"--Scheduler:Tenants:{i}:ApiKey={TenantId(i)}-key");
        }

        var silo = SiloProcess.Start(0, args);
        try
        {
            using var channel = GrpcChannel.ForAddress(silo.Address);
            await Polling.Until(async () => await RefusedAsync(channel, tenants - 1) == StatusCode.InvalidArgument, "the silo to serve", TimeSpan.FromSeconds(120));
            return silo;
        }
        catch
        {
            await silo.DisposeAsync();
            throw;
        }
    }

    private static async Task<StatusCode?> RefusedAsync(GrpcChannel channel, int tenant)
    {
        using var client = new SchedulerClient(channel, TenantId(tenant) + "-key");
        try
        {
            await client.SubmitAsync(new SubmitJobRequest { Model = "llama-3.1-8b", Prompt = "x", MaxTokens = 0 });
            return StatusCode.OK;
        }
        catch (RpcException e)
        {
            return e.StatusCode;
        }
    }
}
