using Grpc.Core;

namespace Scheduler.Cli;

/// <summary>
/// UNAVAILABLE from the addresses schedctl tried, each named with what it answered, so the operator sees which silos
/// are down rather than only the last one dialled. <paramref name="stoppedBecause"/>: why the call was not tried on the
/// remaining addresses (null when it was tried on every one).
/// </summary>
internal sealed class SchedulerUnreachableException(IReadOnlyList<(string Address, RpcException Failure)> tried, int addresses, string? stoppedBecause)
    : RpcException(new Status(StatusCode.Unavailable, Describe(tried, addresses, stoppedBecause), tried[^1].Failure.Status.DebugException))
{
    /// <summary>Why a call that may have reached its silo is not repeated on another.</summary>
    public const string NotRepeatable = "not tried on the other addresses: the call may have reached the silo, and repeating it is not safe";

    /// <summary>Why a stream that broke after its first message is not started over on another address.</summary>
    public const string StreamBegun = "the stream broke after it began answering";

    /// <summary>The addresses tried, in order, with what each answered.</summary>
    public IReadOnlyList<(string Address, RpcException Failure)> Tried { get; } = tried;

    // A transport failure's detail is generic ("Error connecting to subchannel."); its cause says what happened.
    public static string Detail(Status status) => status.DebugException?.GetBaseException() is { } cause
        ? $"{status.Detail} ({cause.Message})"
        : status.Detail;

    private static string Describe(IReadOnlyList<(string Address, RpcException Failure)> tried, int addresses, string? stoppedBecause)
    {
        var each = string.Join("; ", tried.Select(t => $"{t.Address}: {Detail(t.Failure.Status)}"));
        var reach = addresses > 1 && tried.Count == addresses
            ? $"cannot reach the scheduler at any of its {addresses} addresses: {each}"
            : $"cannot reach the scheduler at {each}";
        return stoppedBecause is not null && addresses > 1 ? $"{reach} ({stoppedBecause})" : reach;
    }
}
