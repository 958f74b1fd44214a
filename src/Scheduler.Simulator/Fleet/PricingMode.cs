namespace Scheduler.Simulator.Fleet;

/// <summary>How capacity is paid for.</summary>
internal enum PricingMode
{
    /// <summary>By the hour: owned, reserved or spot nodes.</summary>
    Hourly,

    /// <summary>By the token: a metered endpoint.</summary>
    Metered,
}
