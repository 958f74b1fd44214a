using Scheduler.Bench.Harness;

namespace Scheduler.Bench;

/// <summary>One path's figures: sequential latencies and concurrent throughput.</summary>
internal sealed record PathResult(SequentialSamples Sequential, ConcurrentSamples Concurrent);
