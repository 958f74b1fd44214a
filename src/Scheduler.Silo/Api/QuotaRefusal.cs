using Grpc.Core;
using Scheduler.Abstractions.Tenants;

namespace Scheduler.Silo.Api;

/// <summary>
/// A submission refused by its tenant's quota, as SubmitJob answers it (the status with its retry hint, ErrorInfo and
/// x-ratelimit trailers), keeping where the tenant stands as numbers too (<see cref="Requests"/>,
/// <see cref="Tokens"/>) for <c>StreamJobs</c>, whose refusal is a message that carries them as fields rather than
/// trailers (<see cref="JobMultiplexer"/>).
/// </summary>
internal sealed class QuotaRefusal(RpcException refusal, QuotaHeadroom? requests, QuotaHeadroom? tokens)
    : RpcException(refusal.Status, refusal.Trailers)
{
    public QuotaHeadroom? Requests { get; } = requests;

    public QuotaHeadroom? Tokens { get; } = tokens;
}
