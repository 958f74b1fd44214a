using System.Net.Http;
using System.Net.Sockets;
using Grpc.Core;
using Scheduler.Protos.V1;

namespace Scheduler.Cli;

/// <summary>
/// Which calls schedctl repeats on the next address after UNAVAILABLE. A failure that shows the request never left
/// (the connection was refused or could not be opened) is safe to retry for any call. Any other UNAVAILABLE (the
/// connection reset, the silo died or drained mid-call) may come after the silo acted on the request, so only a call
/// whose repetition leaves the cluster as one call would is retried then; each is decided below, with why.
/// </summary>
internal static class RetrySafety
{
    private const string Admin = "/scheduler.v1.AdminService/";
    private const string Inference = "/scheduler.v1.InferenceService/";

    private static readonly HashSet<string> Repeatable = new(StringComparer.Ordinal)
    {
        // Reads change nothing.
        Admin + "ListTenants", Admin + "GetTenant", Admin + "ListModels", Admin + "ListAccelerators", Admin + "GetAccelerator",
        Admin + "ListReplicas", Admin + "GetReplica", Admin + "GetClusterSummary", Admin + "GetCapacity", Admin + "ListApiKeys",
        Admin + "ListAuditEvents", Admin + "ListJobs", Admin + "ExplainJob",
        Inference + "GetJob", Inference + "ListJobs", Inference + "WatchJob",

        // PutTenant sets the settings it names (its update_mask, or all of them) to the values it carries, an API key to
        // the key it carries: twice is the same tenant as once. The audit log records each call that arrived.
        Admin + "PutTenant",

        // Cordon and uncordon set a state; a second call finds it set and answers the accelerator as it is.
        Admin + "CordonAccelerator", Admin + "UncordonAccelerator",

        // Forgetting a node and revoking a key end in the same state however often they run; a repeat of one that had
        // taken effect answers NOT_FOUND (the node or key is gone), which is the truth about the cluster, not a second
        // change.
        Admin + "ForgetNode", Admin + "RevokeApiKey",

        // Cancelling a job asks for the same end again; a job already cancelling or ended is answered as it is.
        Inference + "CancelJob",
    };

    /// <summary>True when <paramref name="failure"/> of <paramref name="method"/> with <paramref name="request"/> may be
    /// repeated on another address.</summary>
    public static bool MayRetry(IMethod method, object? request, RpcException failure) =>
        NeverSent(failure) || Repeatable.Contains(method.FullName) || KeyedSubmission(method, request);

    // A submission with an idempotency key finds the job the first one made (same key, same request: the same job), so
    // it is repeatable. Without one a repeat after a lost answer would make a second job; CreateApiKey likewise a second
    // key whose secret nobody saw. Those, and any method not listed, are retried only when they never left.
    private static bool KeyedSubmission(IMethod method, object? request) =>
        method.FullName is Inference + "SubmitJob" or Inference + "StreamJob"
        && request is SubmitJobRequest { IdempotencyKey.Length: > 0 };

    /// <summary>The connection the call needed could not be opened, so no silo saw the request.</summary>
    public static bool NeverSent(RpcException failure)
    {
        for (var cause = failure.Status.DebugException; cause is not null; cause = cause.InnerException)
        {
            switch (cause)
            {
                case SocketException { SocketErrorCode: SocketError.ConnectionRefused or SocketError.HostUnreachable or SocketError.NetworkUnreachable or SocketError.HostNotFound or SocketError.TryAgain or SocketError.AddressNotAvailable }:
                case HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError }:
                    return true;
            }
        }

        return false;
    }
}
