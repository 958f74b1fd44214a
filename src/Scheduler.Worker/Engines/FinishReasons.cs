namespace Scheduler.Worker.Engines;

/// <summary>The values of <c>SequenceFinished.reason</c>.</summary>
internal static class FinishReasons
{
    public const string Length = "length";
    public const string Stop = "stop";
    public const string Cancelled = "cancelled";

    /// <summary>The engine had no slot or KV room: the scheduler admitted past capacity.</summary>
    public const string Rejected = "rejected";
}
