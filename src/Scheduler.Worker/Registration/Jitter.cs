namespace Scheduler.Worker.Registration;

/// <summary>Spreads retry delays by ±20 %, so a fleet of nodes refused or cut off together does not come back in step.
/// The randomness is given, so a test can fix it.</summary>
internal sealed class Jitter(Random random)
{
    public TimeSpan Around(TimeSpan delay) => delay * (0.8 + (0.4 * random.NextDouble()));
}
