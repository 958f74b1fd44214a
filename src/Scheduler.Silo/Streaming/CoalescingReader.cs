using System.Runtime.CompilerServices;
using System.Text;
using System.Threading.Channels;
using Scheduler.Abstractions.Jobs;

namespace Scheduler.Silo.Streaming;

/// <summary>
/// Reads a job's events, merging the token events that are already waiting into one. A client that keeps up gets
/// every step's tokens as they come; one that falls behind (or a busy silo) gets fewer, larger messages instead of
/// a backlog — the gRPC write per message, not the token, is what costs.
/// </summary>
internal static class CoalescingReader
{
    /// <summary>Tokens merged into one message at most, so a long backlog still streams in pieces.</summary>
    public const int MaxTokensPerMessage = 256;

    public static async IAsyncEnumerable<JobEventRecord> ReadCoalesced(
        this ChannelReader<JobEventRecord> reader, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // A run of one event (the usual case for a client that keeps up) is passed on as it is: the text buffer and
        // the merged copy are made only when a second event joins the run. The event that ends a run is only peeked
        // at, never held here, so a writer can see it waiting (SubmittedJob.MoreWaiting) and skip a flush.
        StringBuilder? text = null;
        while (await reader.WaitToReadAsync(cancellationToken))
        {
            while (reader.TryRead(out var run))
            {
                var merged = 0;
                while (run.Kind == JobEventKind.Tokens && reader.TryPeek(out var next) && next.Kind == JobEventKind.Tokens &&
                    next.FirstTokenIndex == run.FirstTokenIndex + run.TokenCount + merged &&
                    run.TokenCount + merged + next.TokenCount <= MaxTokensPerMessage)
                {
                    reader.TryRead(out _);
                    if (merged == 0)
                    {
                        (text ??= new StringBuilder()).Clear().Append(run.Text);
                    }

                    text!.Append(next.Text);
                    merged += next.TokenCount;
                }

                yield return Close(run, merged, text);
            }
        }
    }

    /// <summary>The run as one event: its first event, or with <paramref name="merged"/> more tokens, their text in
    /// <paramref name="text"/>.</summary>
    private static JobEventRecord Close(JobEventRecord run, int merged, StringBuilder? text) =>
        merged == 0 ? run : run with { TokenCount = run.TokenCount + merged, Text = text!.ToString() };
}
