namespace Scheduler.Policies;

/// <summary>Priority classes are strict: a lower value is always served first.</summary>
public enum JobPriority
{
    Critical = 1,
    Standard = 2,
    Sheddable = 3,
}
