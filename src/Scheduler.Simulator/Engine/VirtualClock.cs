namespace Scheduler.Simulator.Engine;

/// <summary>The simulation's clock as a <see cref="TimeProvider"/>, for the shared classes that read one (a metered
/// endpoint's <see cref="Scheduler.Policies.Admission.UpstreamLimiter"/>). The event loop sets it.</summary>
internal sealed class VirtualClock : TimeProvider
{
    /// <summary>Virtual time zero; job demands carry absolute times.</summary>
    public static readonly DateTimeOffset Epoch = new(2023, 11, 16, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Milliseconds since <see cref="Epoch"/>.</summary>
    public double NowMs { get; set; }

    public override DateTimeOffset GetUtcNow() => Epoch.AddMilliseconds(NowMs);
}
