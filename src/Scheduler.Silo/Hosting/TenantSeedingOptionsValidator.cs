using Microsoft.Extensions.Options;
using Scheduler.Abstractions.Tenants;
using Scheduler.Silo.Api;
using Scheduler.Silo.Nodes;

namespace Scheduler.Silo.Hosting;

/// <summary>Refuses, at start-up, tenants to create that the admin API would refuse too: an id that cannot key a tenant,
/// a weight out of range, a negative queue bound, a key no client can send, and a key that is not the tenant's alone
/// (another seed's, an admin key or the node token: whoever holds it would be that other tenant too, or an admin).
/// Without it a bad seed failed in the tenant grain with a stack trace, or — a shared key — silently billed one
/// tenant's jobs to another.</summary>
internal sealed class TenantSeedingOptionsValidator(IOptions<ApiOptions> api, IOptions<NodeOptions> nodes) : IValidateOptions<TenantSeedingOptions>
{
    public ValidateOptionsResult Validate(string? name, TenantSeedingOptions options)
    {
        var failures = new List<string>();
        var reserved = api.Value.AdminApiKeys.Append(api.Value.AdminApiKey).Append(nodes.Value.NodeToken).ToHashSet(StringComparer.Ordinal);
        var keyHolders = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < options.Tenants.Count; i++)
        {
            var seed = options.Tenants[i];
            var at = $"Scheduler:Tenants:{i}";
            if (Identifiers.NewIdProblem(seed.Id) is { } problem)
            {
                failures.Add(seed.Id.Length == 0 ? $"{at}:Id {problem}" : $"{at}:Id {problem}, not '{seed.Id}'");
            }

            if (!TenantSettings.IsValidWeight(seed.Weight))
            {
                failures.Add($"{at}:Weight must be a number from {TenantSettings.MinWeight} to {TenantSettings.MaxWeight}, not {seed.Weight}");
            }

            if (seed.MaxQueuedJobs < 0)
            {
                failures.Add($"{at}:MaxQueuedJobs must not be negative (0: the default bound), not {seed.MaxQueuedJobs}");
            }

            if (seed.ApiKey.Length == 0)
            {
                continue;
            }

            if (!PresentableKeys.Allows(seed.ApiKey))
            {
                failures.Add($"{at}:ApiKey {PresentableKeys.Rule}");
            }
            else if (reserved.Contains(seed.ApiKey))
            {
                failures.Add($"{at}:ApiKey is an admin key or the node token; a tenant's key must be its own");
            }
            else if (!keyHolders.TryAdd(seed.ApiKey, seed.Id))
            {
                failures.Add($"{at}:ApiKey is also tenant '{keyHolders[seed.ApiKey]}'s key; each tenant needs a key of its own");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
