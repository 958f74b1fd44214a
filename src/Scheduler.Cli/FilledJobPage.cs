using Scheduler.Protos.V1;

namespace Scheduler.Cli;

/// <summary>
/// A page of <c>schedctl jobs</c>, filled from as many server pages as it takes. A server page examines a bounded
/// number of jobs (2,000), so with narrow filters — a tenant's running jobs behind thousands of newer finished ones — it
/// comes back short, even empty, with a token; printed as it came, an empty table read as "no such jobs". The command
/// asks again from the token for what is missing, up to <see cref="MaxCalls"/> calls, and prints what it found with the
/// last token.
/// </summary>
internal static class FilledJobPage
{
    /// <summary>Server pages read for one printed page at most (each examines up to 2,000 jobs).</summary>
    public const int MaxCalls = 25;

    /// <summary>Up to <c>request.PageSize</c> jobs, newest first, with the token after the last page read (empty at the end).</summary>
    public static async Task<ListJobsResponse> Read(ListJobsRequest request, Func<ListJobsRequest, Task<ListJobsResponse>> list)
    {
        var page = await list(request);
        for (var calls = 1; calls < MaxCalls && page.NextPageToken.Length > 0 && page.Jobs.Count < request.PageSize; calls++)
        {
            var next = request.Clone();
            next.PageSize = request.PageSize - page.Jobs.Count;
            next.PageToken = page.NextPageToken;
            var more = await list(next);
            page.Jobs.AddRange(more.Jobs);
            page.NextPageToken = more.NextPageToken;
        }

        return page;
    }
}
