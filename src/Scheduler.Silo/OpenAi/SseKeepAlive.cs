using System.Runtime.CompilerServices;
using Scheduler.Abstractions.Jobs;

namespace Scheduler.Silo.OpenAi;

/// <summary>
/// A streamed answer's events, with a server-sent event comment (<c>: keep-alive</c>, which every SSE client skips)
/// written whenever none came for an interval. A job may wait in its queue for minutes, and a stream silent that long
/// is cut by the proxies and load balancers between client and silo (60 s of idle is a common default), which the
/// silo then takes for the client leaving and cancels the job.
/// </summary>
internal static class SseKeepAlive
{
    private static readonly byte[] Comment = ": keep-alive\n\n"u8.ToArray();

    /// <summary><paramref name="events"/> as they come, writing the comment to <paramref name="http"/>'s response after
    /// each <paramref name="interval"/> without one (never, for <see cref="TimeSpan.Zero"/>).</summary>
    public static async IAsyncEnumerable<JobEventRecord> Events(
        IAsyncEnumerable<JobEventRecord> events, HttpContext http, TimeSpan interval, TimeProvider time,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var enumerator = events.GetAsyncEnumerator(cancellationToken);
        Task<bool>? waiting = null;
        try
        {
            while (true)
            {
                var next = enumerator.MoveNextAsync();
                bool more;
                if (next.IsCompleted || interval <= TimeSpan.Zero)
                {
                    // The common case, events already waiting: no task, no timer.
                    more = await next;
                }
                else
                {
                    waiting = next.AsTask();
                    while (!waiting.IsCompleted)
                    {
                        try
                        {
                            await waiting.WaitAsync(interval, time, cancellationToken);
                        }
                        catch (TimeoutException)
                        {
                            await http.Response.Body.WriteAsync(Comment, cancellationToken);
                            await http.Response.Body.FlushAsync(cancellationToken);
                        }
                    }

                    more = await waiting;
                    waiting = null;
                }

                if (!more)
                {
                    yield break;
                }

                yield return enumerator.Current;
            }
        }
        finally
        {
            // An async iterator must not be disposed while its MoveNextAsync runs: one left waiting when the client went
            // ends as soon as it sees the same cancellation.
            if (waiting is not null)
            {
                await ((Task)waiting).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            await enumerator.DisposeAsync();
        }
    }
}
