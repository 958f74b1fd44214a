using System.Globalization;
using Grpc.Core;

namespace Scheduler.Client;

/// <summary>Reads the scheduler's retry hint from a refusal: a RESOURCE_EXHAUSTED status (a quota, or a sheddable job
/// while the model is overloaded) carries a <c>retry-after-ms</c> trailer when retrying can succeed.</summary>
public static class RetryHint
{
    public const string TrailerName = "retry-after-ms";

    /// <summary>How long to wait before retrying, or null when <paramref name="error"/> carries no hint (retrying
    /// as is would not help, or it is not a refusal by quota or load).</summary>
    public static TimeSpan? Of(RpcException error)
    {
        ArgumentNullException.ThrowIfNull(error);
        return error.StatusCode == StatusCode.ResourceExhausted
            && error.Trailers.GetValue(TrailerName) is { } value
            && long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var ms)
            ? TimeSpan.FromMilliseconds(ms)
            : null;
    }
}
