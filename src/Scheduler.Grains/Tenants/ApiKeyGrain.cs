using Scheduler.Abstractions.Tenants;

namespace Scheduler.Grains.Tenants;

[GenerateSerializer, Alias("scheduler.ApiKeyState")]
public sealed class ApiKeyState
{
    [Id(0)] public string? TenantId { get; set; }
}

/// <summary>Maps the hash of an API key to its tenant.</summary>
internal sealed class ApiKeyGrain(
    [PersistentState("apikey", StorageNames.Default)] IPersistentState<ApiKeyState> state,
    OwnedStateWrites writes,
    TimeProvider time) : Grain, IApiKeyGrain
{
    // In memory only: writing state on every lookup would cost a storage write per cache miss.
    private DateTimeOffset? _lastUsed;

    public Task<string?> GetTenant()
    {
        if (state.State.TenantId is not null)
        {
            _lastUsed = time.GetUtcNow();
        }

        return Task.FromResult(state.State.TenantId);
    }

    public Task<string?> Holder() => Task.FromResult(state.State.TenantId);

    public Task<DateTimeOffset?> LastUsed() => Task.FromResult(_lastUsed);

    public async Task<bool> Assign(string tenantId)
    {
        if (state.State.TenantId is { } holder)
        {
            return holder == tenantId;
        }

        state.State.TenantId = tenantId;
        await writes.Write(state);
        return true;
    }

    public async Task Revoke(string tenantId)
    {
        // Only the owner can revoke, so a stale revoke cannot take a key another tenant was given since.
        if (state.State.TenantId == tenantId)
        {
            state.State.TenantId = null;
            await writes.Write(state);
        }
    }
}
