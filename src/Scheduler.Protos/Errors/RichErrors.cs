using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using Status = Grpc.Core.Status;

namespace Scheduler.Protos.Errors;

/// <summary>
/// gRPC's rich error model as the scheduler sends it: the status with a <c>google.rpc.Status</c> in the
/// <c>grpc-status-details-bin</c> trailer repeating its code and message and carrying one detail (AIP-193), which every
/// gRPC language's status helpers read. The silo builds its refusals here; the .NET client rebuilds a StreamJobs refusal
/// (which travels as a message, not a status) the same way, so a caller sees one error whichever call it used.
/// </summary>
public static class RichErrors
{
    /// <summary>INVALID_ARGUMENT "<paramref name="field"/>: <paramref name="problem"/>" with a BadRequest naming the field.</summary>
    public static RpcException InvalidArgument(string field, string problem) => With(
        StatusCode.InvalidArgument,
        $"{field}: {problem}",
        new BadRequest { FieldViolations = { new BadRequest.Types.FieldViolation { Field = field, Description = problem } } });

    /// <summary>RESOURCE_EXHAUSTED with a RetryInfo of <paramref name="retryAfter"/>, beside <paramref name="trailers"/>.</summary>
    public static RpcException ResourceExhausted(string message, TimeSpan retryAfter, Metadata trailers) => With(
        StatusCode.ResourceExhausted, message, new RetryInfo { RetryDelay = Duration.FromTimeSpan(retryAfter) }, trailers);

    /// <summary><paramref name="refusal"/> with an <c>ErrorInfo</c> of <paramref name="reason"/> (<see cref="ErrorReasons"/>,
    /// in their domain) added to its <c>google.rpc.Status</c>, beside the detail it has.</summary>
    public static RpcException WithReason(RpcException refusal, string reason, IDictionary<string, string>? metadata = null)
    {
        var status = refusal.GetRpcStatus() ?? new Google.Rpc.Status { Code = (int)refusal.StatusCode, Message = refusal.Status.Detail };
        var info = new ErrorInfo { Reason = reason, Domain = ErrorReasons.Domain };
        if (metadata is not null)
        {
            info.Metadata.Add(metadata);
        }

        status.Details.Add(Any.Pack(info));
        var trailers = TrailersOf(refusal, except: StatusDetailsTrailer);
        trailers.SetRpcStatus(status);
        return new RpcException(refusal.Status, trailers);
    }

    /// <summary><paramref name="refusal"/> with the <paramref name="extra"/> (text) trailers beside its own.</summary>
    public static RpcException WithTrailers(RpcException refusal, IReadOnlyCollection<KeyValuePair<string, string>> extra)
    {
        if (extra.Count == 0)
        {
            return refusal;
        }

        var trailers = TrailersOf(refusal, except: null);
        foreach (var (name, value) in extra)
        {
            trailers.Add(name, value);
        }

        return new RpcException(refusal.Status, trailers);
    }

    // A copy to add to: an exception made without trailers has a read-only empty set.
    private static Metadata TrailersOf(RpcException refusal, string? except)
    {
        var trailers = new Metadata();
        foreach (var entry in refusal.Trailers)
        {
            if (entry.Key != except)
            {
                trailers.Add(entry);
            }
        }

        return trailers;
    }

    // Where gRPC's rich error model carries the google.rpc.Status (what SetRpcStatus writes).
    private const string StatusDetailsTrailer = "grpc-status-details-bin";

    /// <summary>The <c>ErrorInfo</c> reason of the scheduler's domain <paramref name="ex"/> carries; null when none.</summary>
    public static string? ReasonOf(RpcException ex) => InfoOf(ex)?.Reason;

    /// <summary>The <c>ErrorInfo</c> of the scheduler's domain <paramref name="ex"/> carries (its reason and metadata);
    /// null when none.</summary>
    public static ErrorInfo? InfoOf(RpcException ex) =>
        ex.GetRpcStatus()?.GetDetail<ErrorInfo>() is { Domain: ErrorReasons.Domain } info ? info : null;

    /// <summary>The status with <paramref name="detail"/> in its <c>google.rpc.Status</c>, beside any other
    /// <paramref name="trailers"/>.</summary>
    public static RpcException With(StatusCode code, string message, IMessage detail, Metadata? trailers = null)
    {
        var status = new Google.Rpc.Status { Code = (int)code, Message = message, Details = { Any.Pack(detail) } };
        trailers ??= [];
        trailers.SetRpcStatus(status);
        return new RpcException(new Status(code, message), trailers);
    }
}
