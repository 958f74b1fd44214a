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
