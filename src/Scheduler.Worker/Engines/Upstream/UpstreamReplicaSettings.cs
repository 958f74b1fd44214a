namespace Scheduler.Worker.Engines.Upstream;

/// <summary>Where an upstream replica sends its sequences and what the provider allows, validated from
/// <see cref="Hosting.UpstreamOptions"/>.</summary>
/// <param name="BaseUri">The server's root; requests go to <c>v1/completions</c> and <c>v1/chat/completions</c> under it.</param>
/// <param name="Model">The model name the upstream knows.</param>
/// <param name="ApiKey">Sent as a bearer token; null sends none.</param>
/// <param name="RequestsPerMinute">Requests per minute the provider allows; 0 for no limit.</param>
/// <param name="TokensPerMinute">Prompt plus output tokens per minute the provider allows; 0 for no limit.</param>
/// <param name="ChatOnly">The upstream has no <c>/v1/completions</c>: a prompt is sent as one user turn of a chat.</param>
/// <param name="ConnectTimeout">How long connecting may take before the sequence goes elsewhere.</param>
/// <param name="IdleTimeout">How long the upstream may send nothing — before its answer's headers, or between two of
/// its events — before the sequence goes elsewhere; <see cref="Timeout.InfiniteTimeSpan"/> waits for ever.</param>
internal sealed record UpstreamReplicaSettings(
    Uri BaseUri,
    string Model,
    string? ApiKey,
    int RequestsPerMinute,
    int TokensPerMinute,
    bool ChatOnly,
    TimeSpan ConnectTimeout,
    TimeSpan IdleTimeout);
