using Scheduler.Protos.V1;

namespace Scheduler.Bench.Llama.Workload;

/// <summary>
/// The workload every path runs: jobs all submitted at once, the same prompt, output lengths cycling through
/// <see cref="Lengths"/>. The tiny model never samples end-of-sequence, so every job runs to its max_tokens and
/// both batching disciplines produce exactly the same tokens.
/// </summary>
internal static class JobMix
{
    public const string Prompt = " hello world, the fast model";

    public const float Temperature = 0.8f;

    /// <summary>Mixed output lengths: the longest is 16× the shortest, mean 198 (a batch formed of all five runs
    /// 2.6× longer than its mean sequence).</summary>
    public static readonly int[] Lengths = [32, 64, 128, 256, 512];

    public static int LongestOutput => Lengths.Max();

    public static IReadOnlyList<BenchJob> Jobs(int count) =>
        [.. Enumerable.Range(0, count).Select(i => new BenchJob($"job-{i:D3}", Lengths[i % Lengths.Length], (ulong)(i + 1)))];

    /// <summary>The job as the engine is given it when driven directly (the scheduler path sends the same fields).</summary>
    public static SequenceSpec Spec(BenchJob job) => new()
    {
        SequenceId = job.Id,
        Prompt = Prompt,
        MaxTokens = job.MaxTokens,
        Temperature = Temperature,
        Seed = job.Seed,
    };
}
