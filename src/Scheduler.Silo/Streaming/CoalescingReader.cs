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
        var text = new StringBuilder();
        while (await reader.WaitToReadAsync(cancellationToken))
        {
            JobEventRecord? run = null;
            while (reader.TryRead(out var e))
            {
                if (run is { Kind: JobEventKind.Tokens } r && e.Kind == JobEventKind.Tokens &&
                    e.FirstTokenIndex == r.FirstTokenIndex + r.TokenCount && r.TokenCount + e.TokenCount <= MaxTokensPerMessage)
                {
                    text.Append(e.Text);
                    run = r with { TokenCount = r.TokenCount + e.TokenCount };
                    continue;
                }

                if (run is not null)
                {
                    yield return Close(run, text);
                }

                run = e;
                text.Clear().Append(e.Text);
            }

            if (run is not null)
            {
                yield return Close(run, text);
            }
        }
    }

    private static JobEventRecord Close(JobEventRecord run, StringBuilder text) =>
        run.Kind == JobEventKind.Tokens ? run with { Text = text.ToString() } : run;
}
