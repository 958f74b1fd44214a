using Microsoft.Extensions.Options;
using Scheduler.Silo.Api;
using Scheduler.Silo.Hosting;
using Scheduler.Silo.Models;

namespace Scheduler.Standalone;

/// <summary>Tells a newcomer where the scheduler listens and which keys to use, and two commands that work as printed
/// (a job for the catalog's first model, with the first tenant's key).</summary>
internal static class StartupBanner
{
    public static async Task PrintAsync(IServiceProvider services)
    {
        var tenants = services.GetRequiredService<IOptions<TenantSeedingOptions>>().Value.Tenants;
        var adminKey = services.GetRequiredService<IOptions<ApiOptions>>().Value.AdminApiKey;
        var addresses = services.GetRequiredService<ListeningAddresses>();
        var model = services.GetRequiredService<IOptions<ModelCatalogOptions>>().Value.FirstModel() ?? "<model>";
        var key = tenants.FirstOrDefault()?.ApiKey ?? "<key>";
        await services.GetRequiredService<EmbeddedFleet>().Ready;
        Console.WriteLine();
        Console.WriteLine($"Scheduler listening: gRPC {addresses.Grpc}   OpenAI-compatible {addresses.OpenAi}/v1   metrics/health/dashboard {addresses.Http} (/metrics, /healthz, /dashboard)");
        foreach (var tenant in tenants)
        {
            Console.WriteLine($"  tenant '{tenant.Id}': api key '{tenant.ApiKey}'");
        }

        Console.WriteLine($"  admin key '{adminKey}'");
        Console.WriteLine($"  try: dotnet run --project src/Scheduler.Cli -- --address {addresses.Grpc} --key {key} submit --model {model} --prompt \"Hello\" --max-tokens 32");
        Console.WriteLine($"   or: curl {addresses.OpenAi}/v1/chat/completions -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' -d '{{\"model\":\"{model}\",\"messages\":[{{\"role\":\"user\",\"content\":\"Hello\"}}],\"max_tokens\":32}}'");
        Console.WriteLine();
    }
}
