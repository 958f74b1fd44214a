using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Scheduler.Abstractions.Jobs;
using Scheduler.Grains.Jobs;
using Scheduler.Policies;
using Scheduler.Silo.Models;
using Proto = Scheduler.Protos.V1;

namespace Scheduler.Silo.Api;

/// <summary>
/// Lists jobs for <c>ListJobs</c> (the admin's and a tenant's own): reads the <see cref="IJobIndex"/> newest first and
/// filters by model, priority and settled status there, so only the jobs that may be listed cost a grain call (their
/// records give the rows, and tell queued from running). A page examines at most <see cref="ScanBudget"/> index
/// entries: with narrow filters it may come back short, with a token to go on from where it stopped.
/// </summary>
internal sealed class JobListing(IJobIndex index, IGrainFactory grains, ModelCatalog models)
{
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 500;
    public const int ScanBudget = 2_000;

    // Grain calls at a time when reading the records of a page.
    private const int MaxConcurrentCalls = 32;

    /// <summary>Checks a request and reads one page. <paramref name="tenantId"/> is the tenant to list (null: all).</summary>
    public async Task<Proto.ListJobsResponse> List(Proto.ListJobsRequest request, string? tenantId, CancellationToken cancellationToken)
    {
        var query = Parse(request, tenantId);
        var response = new Proto.ListJobsResponse();
        var cursor = query.After;
        var examined = 0;
        var exhausted = false;
        while (response.Jobs.Count < query.PageSize && examined < ScanBudget)
        {
            var want = Math.Min(Math.Max(query.PageSize, 100), ScanBudget - examined);
            var entries = await index.ReadNewestFirst(query.TenantId, cursor, query.Since, query.Until, want);
            examined += entries.Count;
            exhausted = entries.Count < want;
            var candidates = entries.Where(query.MayMatch).ToList();
            var processed = 0;
            while (processed < candidates.Count && response.Jobs.Count < query.PageSize)
            {
                var window = candidates.GetRange(processed, Math.Min(query.PageSize - response.Jobs.Count, candidates.Count - processed));
                var records = await Records(window, cancellationToken);
                for (var i = 0; i < window.Count && response.Jobs.Count < query.PageSize; i++, processed++)
                {
                    // No record: the submission was refused after it was indexed (shed, or failed before it was accepted).
                    if (records[i]?.ToProto() is { } job && query.Matches(job))
                    {
                        job.Output = "";
                        response.Jobs.Add(job);
                        cursor = window[i].Cursor;
                    }
                }
            }

            if (processed == candidates.Count)
            {
                // The whole chunk was looked at: the next page starts after it.
                cursor = entries.Count > 0 ? entries[^1].Cursor : cursor;
            }
            else
            {
                // The page filled up inside the chunk: what follows its last row is still to be read.
                exhausted = false;
            }

            if (exhausted)
            {
                break;
            }
        }

        if (!exhausted && cursor is { } next)
        {
            response.NextPageToken = Token(next);
        }

        return response;
    }

    private async Task<JobSnapshot?[]> Records(List<JobIndexEntry> entries, CancellationToken cancellationToken)
    {
        var records = new JobSnapshot?[entries.Count];
        var options = new ParallelOptions { MaxDegreeOfParallelism = MaxConcurrentCalls, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(Enumerable.Range(0, entries.Count), options,
            async (i, _) => records[i] = await grains.GetGrain<IJobGrain>(entries[i].JobId).Get());
        return records;
    }

    private ListQuery Parse(Proto.ListJobsRequest request, string? tenantId)
    {
        if (request.PageSize is < 0 or > MaxPageSize)
        {
            throw SchedulerErrors.InvalidArgument("page_size", $"must be 0 (the default, {DefaultPageSize}) to {MaxPageSize}");
        }

        if (request.Model.Length > 0 && !models.TryGet(request.Model, out _))
        {
            throw SchedulerErrors.InvalidArgument("model", $"'{SchedulerErrors.Echo(request.Model)}' is not a model this scheduler serves");
        }

        var statuses = new HashSet<Proto.JobStatus>();
        foreach (var status in request.Statuses)
        {
            if (status == Proto.JobStatus.Unspecified || !System.Enum.IsDefined(status))
            {
                throw SchedulerErrors.InvalidArgument("statuses", $"unknown value {(int)status}");
            }

            statuses.Add(status);
        }

        var priority = ProtoMapping.FromProto(request.Priority, "priority");
        var since = Timestamps.Read(request.SubmittedSince, "submitted_since");
        var until = Timestamps.Read(request.SubmittedUntil, "submitted_until");
        if (since > until)
        {
            throw SchedulerErrors.InvalidArgument("submitted_since", "must not be after submitted_until");
        }

        var after = request.PageToken.Length > 0 ? ParseToken(request.PageToken) : (JobIndexCursor?)null;
        return new ListQuery(tenantId, request.Model.Length > 0 ? request.Model : null, statuses, priority, since, until,
            request.PageSize == 0 ? DefaultPageSize : request.PageSize, after);
    }

    // The token is the place of the last job looked at; it carries no filters (a caller pages with the same ones).
    private static string Token(JobIndexCursor c) =>
        PageTokens.Encode($"{c.SubmittedMs.ToString(CultureInfo.InvariantCulture)}:{c.JobId}");

    private static JobIndexCursor ParseToken(string token)
    {
        if (PageTokens.Text(token) is { } text && text.IndexOf(':', StringComparison.Ordinal) is var colon
            && colon > 0 && colon < text.Length - 1
            && long.TryParse(text.AsSpan(0, colon), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var ms))
        {
            return new JobIndexCursor(ms, text[(colon + 1)..]);
        }

        throw PageTokens.NotHandedOut("ListJobs");
    }

    private sealed record ListQuery(string? TenantId, string? Model, HashSet<Proto.JobStatus> Statuses, JobPriority? Priority,
        DateTimeOffset? Since, DateTimeOffset? Until, int PageSize, JobIndexCursor? After)
    {
        /// <summary>What the index tells without the record: model, priority, and a settled job's status.</summary>
        public bool MayMatch(JobIndexEntry e) =>
            (Model is null || e.Model == Model)
            && (Priority is null || e.Priority == Priority)
            && (Statuses.Count == 0 || e.Status == JobStatus.Queued || Statuses.Contains(ToWire(e.Status)));

        /// <summary>The record's status (a running job asked to stop is listed as running too), and its exact submission
        /// time: the index keeps milliseconds, so a job submitted in the same millisecond just outside the range is
        /// read from it too.</summary>
        public bool Matches(Proto.Job job) =>
            (Statuses.Count == 0 || Statuses.Contains(job.Status)
                || (job.Status == Proto.JobStatus.Cancelling && Statuses.Contains(Proto.JobStatus.Running)))
            && (Since is null || job.SubmittedAt.ToDateTimeOffset() >= Since)
            && (Until is null || job.SubmittedAt.ToDateTimeOffset() <= Until);

        private static Proto.JobStatus ToWire(JobStatus s) => (Proto.JobStatus)(int)s;
    }
}
