using System.Runtime.CompilerServices;
using System.Text;
using Scheduler.Abstractions.Jobs;

namespace Scheduler.Silo.Streaming;

/// <summary>
/// Reads a job's events, merging the token events that are already waiting into one. A client that keeps up gets
/// every step's tokens as they come; one that falls behind (or a busy silo) gets fewer, larger messages instead of
/// a backlog — the gRPC write per message, not the token, is what costs.
/// </summary>
/// <remarks>With a token interval (<c>Scheduler:TokenStreamIntervalMilliseconds</c>) the tokens after a stream's first are
/// also held until that long after the last tokens passed on, so an engine's steps reach the client a few at a time: the
/// silo then pays its per-message cost (the write, the frame, the socket's send, the client's read) once per interval
/// rather than once per step. The first tokens are never held (the time to first token is unchanged), and the job's end,
/// or any other event, ends a hold at once: the last tokens and the end go out together, never an interval late.</remarks>
internal static class CoalescingReader
{
    /// <summary>Tokens merged into one message at most, so a long backlog still streams in pieces.</summary>
    public const int MaxTokensPerMessage = 256;

    /// <summary>The job's events, tokens after the first passed on at most once per <paramref name="tokenInterval"/>
    /// (zero: as they come).</summary>
    public static async IAsyncEnumerable<JobEventRecord> ReadCoalesced(
        this MergingEventQueue queue, TimeSpan tokenInterval, TimeProvider time, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // A run of one event (the usual case for a client that keeps up) is passed on as it is: the text buffer and
        // the merged copy are made only when a second event joins the run. The event that ends a run is only peeked
        // at, never held here, so a writer can see it waiting (SubmittedJob.MoreWaiting) and skip a flush — unless it is
        // tokens this reader will hold (MergingEventQueue.ReadyWaiting).
        StringBuilder? text = null;
        long? tokensPassedAt = null;
        while (await queue.WaitToReadAsync(cancellationToken))
        {
            if (tokensPassedAt is { } passed && tokenInterval > TimeSpan.Zero && queue.TryPeek(out var waiting) && waiting.Kind == JobEventKind.Tokens)
            {
                await Hold(queue, tokenInterval - time.GetElapsedTime(passed), time, cancellationToken);
                queue.HoldTokens(false);
            }

            if (!queue.TryRead(out var run))
            {
                continue;
            }

            var merged = 0;
            while (run.Kind == JobEventKind.Tokens && queue.TryPeek(out var next) && next.Kind == JobEventKind.Tokens &&
                next.FirstTokenIndex == run.FirstTokenIndex + run.TokenCount + merged &&
                run.TokenCount + merged + next.TokenCount <= MaxTokensPerMessage)
            {
                queue.TryRead(out _);
                if (merged == 0)
                {
                    (text ??= new StringBuilder()).Clear().Append(run.Text);
                }

                text!.Append(next.Text);
                merged += next.TokenCount;
            }

            // Timed when passed on, not when the next is asked for: the interval is between two messages, whatever the
            // writing of the first took.
            if (run.Kind == JobEventKind.Tokens)
            {
                tokensPassedAt = time.GetTimestamp();

                // Tokens that come next wait for the interval: a writer must not leave these unflushed for them.
                queue.HoldTokens(tokenInterval > TimeSpan.Zero);
            }

            yield return Close(run, merged, text);
        }
    }

    /// <summary>Waits out what is left of the interval, unless the job's end (or another event) comes first.</summary>
    private static async Task Hold(MergingEventQueue queue, TimeSpan left, TimeProvider time, CancellationToken cancellationToken)
    {
        if (left <= TimeSpan.Zero)
        {
            return;
        }

        var moreThanTokens = queue.WhenMoreThanTokensWait();
        if (moreThanTokens.IsCompleted)
        {
            return;
        }

        // When the end comes first the timer is left to run out (an interval at most): cheaper than a token source of
        // its own to stop it. A cancelled stream ends here as it would in the wait for events.
        await Task.WhenAny(Task.Delay(left, time, cancellationToken), moreThanTokens);
        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <summary>The run as one event: its first event, or with <paramref name="merged"/> more tokens, their text in
    /// <paramref name="text"/>.</summary>
    private static JobEventRecord Close(JobEventRecord run, int merged, StringBuilder? text) =>
        merged == 0 ? run : run with { TokenCount = run.TokenCount + merged, Text = text!.ToString() };
}
