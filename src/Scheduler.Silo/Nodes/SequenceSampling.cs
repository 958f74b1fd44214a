using Scheduler.Abstractions.Jobs;
using Scheduler.Protos.V1;

namespace Scheduler.Silo.Nodes;

/// <summary>Puts a job's sampling settings and extra stop texts on the sequence a node runs.</summary>
internal static class SequenceSampling
{
    public static void ApplySampling(this SequenceSpec spec, JobRequest request)
    {
        if (request.StopSequences is { } stops)
        {
            spec.StopSequences.AddRange(stops);
        }

        if (request.Sampling is not { } sampling)
        {
            return;
        }

        // Proto3 optional fields are unset unless assigned: a null stays "the engine's default".
        if (sampling.Temperature is { } temperature)
        {
            spec.Temperature = temperature;
        }

        if (sampling.TopP is { } topP)
        {
            spec.TopP = topP;
        }

        if (sampling.TopK is { } topK)
        {
            spec.TopK = topK;
        }

        if (sampling.Seed is { } seed)
        {
            spec.Seed = seed;
        }
    }
}
