namespace Scheduler.Silo.Api;

/// <summary>The gRPC front door's settings (section "Scheduler").</summary>
public sealed class ApiOptions
{
    /// <summary>Key for AdminService calls. The default is a well-known development key.</summary>
    public string AdminApiKey { get; set; } = "dev-admin-key";

    /// <summary>
    /// Largest gRPC message the silo accepts; a bigger one is refused with RESOURCE_EXHAUSTED before it is parsed.
    /// Sized above the largest valid request (a model's MaxPromptBytes of text, or a full context of token ids)
    /// and small enough that a flood of them cannot exhaust memory.
    /// </summary>
    public int MaxReceiveMessageBytes { get; set; } = 8 << 20;

    /// <summary>How long a silo trusts a tenant key it has checked; a revoked key may work that long. 0 = always ask.</summary>
    public int ApiKeyCacheSeconds { get; set; } = 10;
}
