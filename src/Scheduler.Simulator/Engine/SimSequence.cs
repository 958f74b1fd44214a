using Scheduler.Policies;
using Scheduler.Policies.Profiles;
using Scheduler.Simulator.Workload;

namespace Scheduler.Simulator.Engine;

/// <summary>One request's life in the simulation: queued, admitted, prefilling, decoding, done — or not served.</summary>
internal sealed class SimSequence(SimRequest request, JobDemand demand) : IPlannedSequence
{
    public SimRequest Request { get; } = request;

    /// <summary>What the scheduler placed: the view releases and marks prefilled by it. A preempted sequence is queued
    /// again with what it still needs (<see cref="Resume"/>).</summary>
    public JobDemand Demand { get; private set; } = demand;

    /// <summary>Times it was stopped to make room for another and queued again.</summary>
    public int Preemptions => Demand.Preemptions;

    /// <summary>Prepares the re-dispatch of a preempted sequence, as the live placement does for a hand-back: it
    /// recomputes its prompt and the tokens it delivered, and generates the rest.</summary>
    public void Resume()
    {
        Demand = Demand with
        {
            PromptTokens = Request.PromptTokens + Generated,
            MaxTokens = Request.OutputTokens - Generated,
            Preemptions = Demand.Preemptions + 1,
        };
        PrefillRemaining = Request.PromptTokens + Generated;
        CachedPromptTokens = 0;
    }

    /// <summary>Output tokens delivered before its last <see cref="Resume"/>, which its prompt now carries (0 until
    /// preempted).</summary>
    public int DeliveredBeforeResume => Demand.PromptTokens - Request.PromptTokens;

    /// <summary>Prompt tokens the replica found in its prefix cache at admission, which it did not prefill.</summary>
    public int CachedPromptTokens { get; set; }
    public int PrefillRemaining { get; set; } = request.PromptTokens;
    public int Generated { get; set; }
    public string? Product { get; set; }

    /// <summary>Its fair rank on the replica it was admitted into (prefill order there).</summary>
    public double FairRank { get; set; }

    /// <summary>Consecutive steps its decode may wait for an under-share prompt's prefill on that replica.</summary>
    public int DecodeDeferrals { get; set; }

    /// <summary>Prompt tokens a step it may prefill, with the other capped sequences, while its replica is contended
    /// (0: uncapped).</summary>
    public int ContendedPrefillTokens { get; set; }

    /// <summary>How long its replica stays contended after it last held an uncapped sequence.</summary>
    public int ContendedPrefillWindowMs { get; set; }

    public int DeferredSteps { get; set; }
    public double AdmittedMs { get; set; } = double.NaN;

    /// <summary>When the replica may start it: its admission, or later while a metered endpoint's rate limit holds it.</summary>
    public double ReadyMs { get; set; }

    public double FirstTokenMs { get; set; } = double.NaN;
    public double FinishedMs { get; set; } = double.NaN;

    /// <summary>Why it was not served; null while it is or was served.</summary>
    public Unserved? Unserved { get; set; }

    public bool Prefilled => PrefillRemaining == 0;

    /// <summary>Once prefilled it decodes a token in each step it is not deferred.</summary>
    bool IPlannedSequence.Decoding => Prefilled;
    public double TtftMs => FirstTokenMs - Request.ArrivalMs;

    /// <summary>Time per output token after the first; NaN for a one-token answer.</summary>
    public double TpotMs => Request.OutputTokens > 1 ? (FinishedMs - FirstTokenMs) / (Request.OutputTokens - 1) : double.NaN;

    public bool MetObjective => TtftMs <= Request.TtftObjectiveMs;

    /// <summary>Prompt plus output: what it holds in a KV cache and what a metered endpoint counts.</summary>
    public long Tokens => (long)Request.PromptTokens + Request.OutputTokens;
}
