using Grpc.Core;
using Scheduler.Protos.V1;
using Scheduler.Worker.Engines;

namespace Scheduler.Tests.Worker;

/// <summary>What a sequence received over a series of step reports.</summary>
internal sealed record SequenceOutcome(IReadOnlyList<SequenceTokens> Tokens, SequenceFinished? Finished)
{
    public string Text => string.Concat(Tokens.Select(t => t.Text));

    public IEnumerable<int> Indexes => Tokens.SelectMany(t => Enumerable.Range(t.FirstTokenIndex, t.TokenCount));

    public static SequenceOutcome Of(string sequenceId, IEnumerable<StepReport> reports)
    {
        var list = reports.ToList();
        return new(
            list.SelectMany(r => r.Tokens).Where(t => t.SequenceId == sequenceId).ToList(),
            list.SelectMany(r => r.Finished).SingleOrDefault(f => f.SequenceId == sequenceId));
    }
}

/// <summary>Drives an engine step by step, without its loop or any waiting.</summary>
internal static class EngineRun
{
    public static SequenceSpec Sequence(string id, int promptTokens, int maxTokens, int resumeFrom = 0, string stop = "") =>
        new() { SequenceId = id, PromptTokens = promptTokens, MaxTokens = maxTokens, ResumeFromToken = resumeFrom, Stop = stop };

    /// <summary>Steps until the engine has nothing left to do; returns every report.</summary>
    public static List<StepReport> ToCompletion(SimulatedEngine engine, int maxSteps = 10_000) => ToCompletion(engine.Step, maxSteps);

    /// <summary>Calls <paramref name="step"/> (an engine's <c>Step</c>) until it returns null; returns every report.</summary>
    public static List<StepReport> ToCompletion(Func<StepReport?> step, int maxSteps = 10_000)
    {
        var reports = new List<StepReport>();
        for (var i = 0; i < maxSteps; i++)
        {
            var report = step();
            if (report is null)
            {
                return reports;
            }

            reports.Add(report);
        }

        throw new InvalidOperationException($"The engine still had work after {maxSteps} steps.");
    }

    /// <summary>Reads an Execute stream's step reports until <paramref name="sequences"/> sequences have finished.</summary>
    public static async Task<List<StepReport>> ReadUntilFinishedAsync(
        AsyncDuplexStreamingCall<ExecuteCommand, ExecuteEvent> call, int sequences, CancellationToken cancellationToken)
    {
        var reports = new List<StepReport>();
        while (reports.Sum(r => r.Finished.Count) < sequences)
        {
            Assert.True(await call.ResponseStream.MoveNext(cancellationToken), "The node ended the stream early.");
            reports.Add(call.ResponseStream.Current.Step);
        }

        return reports;
    }
}
