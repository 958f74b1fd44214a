namespace Scheduler.Protos.Tls;

/// <summary>How a channel tells a peer that stopped answering (<see cref="SchedulerChannels.ForAddress"/>): after
/// <paramref name="Idle"/> with nothing received it pings, and gives the connection up when no answer came within
/// <paramref name="Answer"/>. Both at least 1 s (HTTP/2 pings of .NET's handler).</summary>
public sealed record ConnectionLiveness(TimeSpan Idle, TimeSpan Answer)
{
    /// <summary>A client's channels to the silos (schedctl, <c>Scheduler.Client</c>): a silo that accepted the connection
    /// and stopped answering — frozen (SIGSTOP, a stalled VM), or cut off by a network that drops its packets — is given
    /// up within about 15 s, so its calls fail and a client with other addresses moves on. Without it such a silo held
    /// every call, and a job's stream, for ever. A silo answers a ping from its connection loop, not from a call's
    /// handler, so a slow call or a job waiting long in its queue is not cut.</summary>
    public static ConnectionLiveness ToSilo { get; } = new(Idle: TimeSpan.FromSeconds(5), Answer: TimeSpan.FromSeconds(10));
}
