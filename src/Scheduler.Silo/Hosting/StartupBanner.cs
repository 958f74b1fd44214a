using Microsoft.Extensions.Options;

namespace Scheduler.Silo.Hosting;

/// <summary>Tells a newcomer where the scheduler listens and which keys to use.</summary>
internal static class StartupBanner
{
    public static async Task PrintAsync(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<SchedulerOptions>>().Value;
        var addresses = services.GetRequiredService<ListeningAddresses>();
        await services.GetRequiredService<EmbeddedFleet>().Ready;
        Console.WriteLine();
        Console.WriteLine($"Scheduler listening: gRPC {addresses.Grpc}   metrics/health/dashboard {addresses.Http} (/metrics, /healthz, /dashboard)");
        foreach (var tenant in options.Tenants)
        {
            Console.WriteLine($"  tenant '{tenant.Id}': api key '{tenant.ApiKey}'");
        }

        Console.WriteLine($"  admin key '{options.AdminApiKey}'");
        Console.WriteLine($"  try: dotnet run --project src/Scheduler.Cli -- --address {addresses.Grpc} --key {options.Tenants.FirstOrDefault()?.ApiKey ?? "<key>"} submit --prompt \"Hello\" --max-tokens 32");
        Console.WriteLine();
    }
}
