namespace Scheduler.Simulator;

/// <summary>The three policy names a run uses, as configuration gives them to the placement grain.</summary>
internal sealed record PolicyChoice(string Placement, string Fairness, string Batching)
{
    public string Label => $"{Placement} / {Batching} / {Fairness}";
}
