using Grpc.Core;

namespace Scheduler.Cli;

/// <summary>The job commands that read with the tenant key (<c>get</c>, <c>watch</c>, <c>cancel</c>): the scheduler
/// answers NOT_FOUND for another tenant's job as for no job, with its retention rule as the likely cause. An operator who
/// found the job with the admin key (<c>schedctl jobs</c>) and then ran <c>get</c> on it with the default tenant key read
/// that the job had expired; the error says which key looked and what finds any tenant's job.</summary>
internal static class TenantKeyLookups
{
    private const string Hint =
        "get, watch and cancel look with the tenant key (--key or $SCHEDULER_API_KEY), which finds that tenant's jobs only; " +
        "'schedctl explain JOB' finds any tenant's with the admin key";

    public static async Task<T> Explained<T>(Task<T> call)
    {
        try
        {
            return await call;
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"{e.Status.Detail}. {Hint}"), e.Trailers);
        }
    }
}
