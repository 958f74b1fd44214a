using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Scheduler.Silo.Hosting;
using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Silo.Hosting;

/// <summary>
/// Scheduler:Dashboard:GrainMethodProfiling decides whether the Orleans dashboard times every grain call: off by
/// default, so a job's grain calls run without a call filter; the dashboard serves its cluster views either way.
/// </summary>
public sealed class DashboardHostingTests
{
    [Fact]
    public async Task Silo_ByDefault_RunsGrainCallsWithoutAFilter_AndTheDashboardStillCountsActivations()
    {
        await using var silo = await Start();

        Assert.Empty(silo.Services.GetServices<IIncomingGrainCallFilter>());
        var counters = await GetDashboardCounters(silo);
        Assert.True(counters.GetProperty("totalActivationCount").GetInt32() > 0, counters.ToString());
    }

    [Fact]
    public async Task Silo_WithGrainMethodProfiling_RegistersTheDashboardsCallFilter()
    {
        await using var silo = await Start("--Scheduler:Dashboard:GrainMethodProfiling=true");

        var filter = Assert.Single(silo.Services.GetServices<IIncomingGrainCallFilter>());
        Assert.Equal(typeof(Orleans.Dashboard.DashboardOptions).Assembly, filter.GetType().Assembly);
    }

    private static async Task<WebApplication> Start(params string[] extra)
    {
        var silo = SchedulerHost.Build(
        [
            "--Scheduler:GrpcPort=0", "--Scheduler:HttpPort=0", "--Scheduler:OpenAiPort=0",
            $"--Scheduler:SiloPort={FreePort.Next()}", $"--Scheduler:GatewayPort={FreePort.Next()}",
            "--Logging:LogLevel:Default=Warning",
            .. extra,
        ]);
        await silo.StartAsync();
        return silo;
    }

    private static async Task<JsonElement> GetDashboardCounters(WebApplication silo)
    {
        using var http = new HttpClient { BaseAddress = new Uri(silo.Services.GetRequiredService<ListeningAddresses>().Http) };
        // The dashboard's silo service publishes its counters a few seconds after the silo starts.
        JsonElement counters = default;
        await Polling.Until(async () =>
        {
            using var response = await http.GetAsync(DashboardHosting.RoutePrefix + "/DashboardCounters");
            if (!response.IsSuccessStatusCode)
            {
                return false;
            }

            counters = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
            return counters.TryGetProperty("totalActivationCount", out var count) && count.GetInt32() > 0;
        }, "the dashboard's counters", TimeSpan.FromSeconds(30));
        return counters;
    }
}
