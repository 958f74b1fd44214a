namespace Scheduler.Grains;

/// <summary>Grain storage providers the silo must register.</summary>
public static class StorageNames
{
    /// <summary>Memory in the embedded default; Redis in production.</summary>
    public const string Default = "scheduler";
}
