namespace Scheduler.Protos.Tls;

/// <summary>How a channel tells a peer that stopped answering (<see cref="SchedulerChannels.ForAddress"/>): after
/// <paramref name="Idle"/> with nothing received it pings, and gives the connection up when no answer came within
/// <paramref name="Answer"/>. Both at least 1 s (HTTP/2 pings of .NET's handler).</summary>
public sealed record ConnectionLiveness(TimeSpan Idle, TimeSpan Answer);
