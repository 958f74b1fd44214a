using System.Globalization;
using System.Text;
using Scheduler.Bench.Llama.Direct;
using Scheduler.Bench.Llama.Workload;

namespace Scheduler.Bench.Llama.Report;

/// <summary>The run as markdown: one row per path, then the two DESIGN.md ratios.</summary>
internal static class LlamaBenchReport
{
    private static CultureInfo Culture => CultureInfo.InvariantCulture;

    public static string Markdown(
        LlamaBenchSettings settings, IReadOnlyList<DecodeCost> sweep, RunResult continuous, RunResult requestLevel, RunResult scheduler,
        DateTimeOffset startedAt, string loadBefore, string loadAfter)
    {
        var md = new StringBuilder();
        md.AppendLine(Culture, $"Run {startedAt:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, load average {loadBefore} before, {loadAfter} after; ");
        md.AppendLine(Culture, $"{settings.Jobs} jobs submitted at once, output lengths {string.Join('/', JobMix.Lengths)} in turn, one replica of {settings.Slots} slots, {settings.Threads} llama.cpp thread(s), model \"{settings.Model}\" ({settings.Shape.Layers} layers of width {settings.Shape.Width}, F32), {(settings.KvUnified ? "one KV cache the slots share" : "one KV stream per slot")}, flash attention {settings.FlashAttention switch { null => "as llama.cpp chooses", true => "on", false => "off" }}, {settings.QueueAhead} admission(s) held ahead per replica on the scheduler path.");
        md.AppendLine();
        md.AppendLine("Decode cost by sequences per step (engine driven directly, one token per sequence, short context; engine-thread CPU):");
        md.AppendLine();
        md.AppendLine("| sequences per decode | CPU ms per decode | CPU ms per sequence | × the cost of one sequence | wall ms per decode |");
        md.AppendLine("|---:|---:|---:|---:|---:|");
        foreach (var cost in sweep)
        {
            md.AppendLine(Culture,
                $"| {cost.Sequences:0.#} | {cost.CpuMsPerDecode:0.00} | {cost.CpuMsPerDecode / cost.Sequences:0.000} | {cost.CpuMsPerDecode / sweep[0].CpuMsPerDecode:0.00} | {cost.WallMsPerDecode:0.00} |");
        }

        md.AppendLine();
        md.AppendLine("| path | output tokens | seconds | tokens/s | CPU seconds | tokens per CPU second | TTFT p50 | TTFT p99 | TPOT p50 | TPOT p99 | finish → next first token p50 | decode calls | ms per decode | engine ms per step | engine CPU s | engine CPU ms per step | mean sequences/decode | peak sequences/decode | failed |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in new[] { continuous, requestLevel, scheduler })
        {
            var e = r.Engine;
            var mean = e.Decodes > 0 ? (double)e.BatchedSequences / e.Decodes : 0;

            // Wall time per decode call: the engine's step cost, plus any time it waited for work.
            var msPerDecode = e.Decodes > 0 ? r.Seconds * 1000 / e.Decodes : 0;
            md.AppendLine(Culture,
                $"| {r.Path} | {r.OutputTokens:N0} | {r.Seconds:0.00} | {r.TokensPerSecond:N0} | {r.CpuSeconds:0.00} | {r.TokensPerCpuSecond:N0} | {Ms(r.Ttft.P50Us)} | {Ms(r.Ttft.P99Us)} | {Ms(r.Tpot.P50Us)} | {Ms(r.Tpot.P99Us)} | {Ms(r.Refill.P50Us)} | {e.Decodes:N0} | {msPerDecode:0.0} | {PerDecode(r.StepMs, e.Decodes)} | {(r.EngineCpuSeconds is { } engineCpu ? engineCpu.ToString("0.00", Culture) : "—")} | {PerDecode(r.EngineCpuSeconds * 1000, e.Decodes)} | {mean:0.0} | {e.MaxBatchSequences} | {r.FailedJobs} |");
        }

        md.AppendLine();
        md.AppendLine("| ratio | measured | DESIGN.md target |");
        md.AppendLine("|---|---:|---|");
        md.AppendLine(Culture, $"| continuous ÷ request-level tokens/s | {continuous.TokensPerSecond / requestLevel.TokensPerSecond:0.00}× | ≥ 2× at equal or better p99 |");
        md.AppendLine(Culture, $"| TTFT p99, continuous ÷ request-level | {continuous.Ttft.P99Us / requestLevel.Ttft.P99Us:0.00} | ≤ 1 |");
        md.AppendLine(Culture, $"| TPOT p99, continuous ÷ request-level | {continuous.Tpot.P99Us / requestLevel.Tpot.P99Us:0.00} | ≤ 1 |");
        md.AppendLine(Culture, $"| through the scheduler ÷ engine driven directly (continuous), tokens/s | {scheduler.TokensPerSecond / continuous.TokensPerSecond:0.00} | ≥ 0.9 |");
        md.AppendLine(Culture, $"| continuous ÷ request-level, tokens per CPU second | {continuous.TokensPerCpuSecond / requestLevel.TokensPerCpuSecond:0.00}× | (load-independent view of the first) |");
        if (continuous.EngineCpuSeconds is { } continuousCpu && requestLevel.EngineCpuSeconds is { } requestLevelCpu)
        {
            md.AppendLine(Culture, $"| continuous ÷ request-level, tokens per engine CPU second | {requestLevelCpu / continuousCpu:0.00}× | (the engine's own cost, without the process's other threads) |");
        }

        md.AppendLine(Culture, $"| through the scheduler ÷ engine driven directly, tokens per CPU second | {scheduler.TokensPerCpuSecond / continuous.TokensPerCpuSecond:0.00} | (what the silo, node and client cost in CPU) |");
        return md.ToString();
    }

    private static string PerDecode(double? totalMs, long decodes) =>
        totalMs is { } ms && decodes > 0 ? (ms / decodes).ToString("0.00", Culture) : "—";

    private static string Ms(double micros) => (micros / 1000).ToString("#,0.0", Culture) + " ms";
}
