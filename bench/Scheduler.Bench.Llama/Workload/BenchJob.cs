namespace Scheduler.Bench.Llama.Workload;

/// <summary>One job of the workload: its id, output length and sampling seed.</summary>
internal sealed record BenchJob(string Id, int MaxTokens, ulong Seed);
