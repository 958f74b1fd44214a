using Scheduler.Policies.Placement;
using Scheduler.Policies.Profiles;

namespace Scheduler.Simulator.Engine;

/// <summary>
/// A simulated replica that steps exactly as the worker's SimulatedEngine does (the shared <see cref="StepPlan"/>):
/// a step is planned and applied when it starts, and its tokens count when it ends. Sequences admitted while a
/// step runs join the next one.
/// </summary>
internal sealed class SimReplica(ReplicaView view)
{
    // In prefill order (PrefillOrder), as the worker's engines keep their batches.
    private readonly List<SimSequence> _batch = [];
    private readonly List<SimSequence> _firstTokens = [];
    private readonly List<SimSequence> _finished = [];

    public ReplicaView View { get; } = view;
    public AcceleratorProfile Profile => View.Profile;
    public bool Stepping { get; private set; }
    public bool HasWork => _batch.Count > 0;
    public double BusyMs { get; private set; }
    public double EnergyJoules { get; private set; }
    public double HourlyCostUsd { get; private set; }
    public double MeteredCostUsd { get; private set; }
    public long Steps { get; private set; }
    public long TokensOut { get; private set; }

    /// <summary>Joins the running batch from the next step on.</summary>
    public void Admit(SimSequence sequence) => _batch.Insert(PrefillOrder.InsertionIndex(_batch, sequence.FairRank, s => s.FairRank), sequence);

    /// <summary>Plans and applies one step; returns its duration. The engine's loop body, without the wait.</summary>
    public double StartStep()
    {
        var decoding = 0;
        foreach (var sequence in _batch)
        {
            decoding += sequence.Prefilled ? 1 : 0;
        }

        var plan = new StepPlan(Profile, decoding);
        var emitted = 0;
        foreach (var sequence in _batch)
        {
            if (!sequence.Prefilled)
            {
                sequence.PrefillRemaining -= plan.TakePrefill(sequence.PrefillRemaining);
            }

            // The step that completes a prefill also yields the first token.
            if (sequence.Prefilled)
            {
                emitted++;
                if (sequence.Generated++ == 0)
                {
                    _firstTokens.Add(sequence);
                }

                if (sequence.Generated >= sequence.Request.OutputTokens)
                {
                    _finished.Add(sequence);
                }
            }
        }

        foreach (var done in _finished)
        {
            _batch.Remove(done);
        }

        var ms = plan.DurationMs;
        Stepping = true;
        Steps++;
        TokensOut += emitted;
        BusyMs += ms;
        EnergyJoules += Profile.PowerWatts * ms / 1000.0;
        HourlyCostUsd += Profile.HourlyCostUsd(ms / 1000.0);
        return ms;
    }

    /// <summary>Ends the running step at <paramref name="nowMs"/>: reports first tokens and finished sequences to the
    /// scheduler's view, as the node's step report does, and adds the finished sequences to <paramref name="finishedOut"/>.
    /// True when there was such news (the placement grain runs an admission round only then).</summary>
    public bool EndStep(double nowMs, List<SimSequence> finishedOut)
    {
        Stepping = false;
        var news = _firstTokens.Count > 0 || _finished.Count > 0;
        foreach (var sequence in _firstTokens)
        {
            sequence.FirstTokenMs = nowMs;
            View.PrefillDone(sequence.Request.PromptTokens);
        }

        foreach (var sequence in _finished)
        {
            sequence.FinishedMs = nowMs;
            MeteredCostUsd += Profile.MeteredCostUsd(sequence.Request.PromptTokens, sequence.Request.OutputTokens);
            View.Release(sequence.Request.Id);
            finishedOut.Add(sequence);
        }

        _firstTokens.Clear();
        _finished.Clear();
        return news;
    }
}
