namespace Scheduler.Simulator;

/// <summary>The three policy names a run uses, as configuration gives them to the placement grain, and how often one
/// job may be preempted (<c>Scheduler:Scheduling:MaxPreemptions</c>; 0 turns preemption off).</summary>
internal sealed record PolicyChoice(string Placement, string Fairness, string Batching, int MaxPreemptions = PolicyChoice.DefaultMaxPreemptions)
{
    /// <summary>The placement grain's default.</summary>
    public const int DefaultMaxPreemptions = 2;

    public string Label => $"{Placement} / {Batching} / {Fairness}";
}
