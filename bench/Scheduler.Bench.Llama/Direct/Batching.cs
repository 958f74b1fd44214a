namespace Scheduler.Bench.Llama.Direct;

/// <summary>How the direct driver admits waiting jobs into the engine.</summary>
internal enum Batching
{
    /// <summary>Iteration level: a job joins the running batch as soon as a slot frees, between two steps.</summary>
    Continuous,

    /// <summary>Request level: a batch of up to one job per slot is formed, runs until all its jobs have finished,
    /// and only then is the next batch admitted.</summary>
    RequestLevel,
}
