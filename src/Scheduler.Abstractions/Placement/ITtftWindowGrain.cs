namespace Scheduler.Abstractions.Placement;

/// <summary>Per model: how many jobs met their time-to-first-token objective over the last minute. In memory only (a
/// minute's window is rebuilt by the next minute's jobs after a failover).</summary>
public interface ITtftWindowGrain : IGrainWithStringKey
{
    /// <summary>A job of the model got its first token (or ended without one) at <paramref name="at"/>.</summary>
    [OneWay]
    Task Record(DateTimeOffset at, bool met);

    /// <summary>Jobs counted and those that met their objective in the minute before now.</summary>
    Task<TtftAttainment> Get();
}

/// <summary>Jobs counted over the window and how many met their objective.</summary>
[GenerateSerializer, Alias("scheduler.TtftAttainment")]
public sealed record TtftAttainment(
    [property: Id(0)] int Jobs,
    [property: Id(1)] int Met);
