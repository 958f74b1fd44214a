using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using Grpc.Net.Client;
using Scheduler.Client;
using Scheduler.Protos.V1;

namespace Scheduler.Bench.Restart;

/// <summary>
/// The jobs a run queues and checks: its tenants (made by <c>PutTenant</c>, each with a key), every job id it was
/// answered, and the checks that each is listed and found exactly once. One channel, reconnecting to the restarted silo.
/// </summary>
internal sealed class Backlog : IDisposable
{
    private const string Prompt = "Summarise the restart of a silo in one line.";
    private const string TenantPrefix = "restart-bench-";

    private readonly RestartBenchSettings _settings;
    private readonly GrpcChannel _channel;
    private readonly SchedulerClient[] _tenants;
    private readonly ConcurrentDictionary<string, int> _jobs = new(StringComparer.Ordinal);

    public Backlog(StandaloneOnRedis scheduler, RestartBenchSettings settings)
    {
        _settings = settings;
        // Reconnects within 100 ms once the restarted silo listens: with the channel's default back-off (up to two
        // minutes) calls failed UNAVAILABLE for seconds after the silo answered, timing the client and not the silo.
        _channel = GrpcChannel.ForAddress(scheduler.Address, new GrpcChannelOptions
        {
            InitialReconnectBackoff = TimeSpan.FromMilliseconds(50),
            MaxReconnectBackoff = TimeSpan.FromMilliseconds(100),
        });
        Admin = new SchedulerAdminClient(_channel, StandaloneOnRedis.AdminKey);
        _tenants = [.. Enumerable.Range(0, settings.Tenants).Select(i => new SchedulerClient(_channel, TenantKey(i)))];
    }

    public SchedulerAdminClient Admin { get; }

    /// <summary>Every job accepted so far, by id.</summary>
    public IReadOnlyList<string> JobIds() => [.. _jobs.Keys];

    public int Count => _jobs.Count;

    /// <summary>Waits for the fleet's accelerators, cordons them all (so every job stays queued) and makes the tenants.</summary>
    public async Task PrepareAsync(int accelerators, CancellationToken cancellationToken)
    {
        IReadOnlyList<Accelerator> listed = [];
        while (listed.Count < accelerators)
        {
            try
            {
                listed = await Admin.ListAcceleratorsAsync(cancellationToken: cancellationToken);
            }
            catch (RpcException)
            {
                // The silo is still starting.
            }

            await Task.Delay(250, cancellationToken);
        }

        foreach (var accelerator in listed)
        {
            await Admin.CordonAcceleratorAsync(accelerator.AcceleratorId, cancellationToken: cancellationToken);
        }

        for (var i = 0; i < _settings.Tenants; i++)
        {
            await Admin.PutTenantAsync(new PutTenantRequest
            {
                TenantId = TenantId(i),
                Weight = 1,
                Quotas = new TenantQuotas { MaxQueuedJobs = (_settings.Jobs / _settings.Tenants) + 100 },
                ApiKey = TenantKey(i),
            }, cancellationToken: cancellationToken);
        }
    }

    /// <summary>Submits <see cref="RestartBenchSettings.Jobs"/> jobs, tenant after tenant in turn; returns each call's latency (ms).</summary>
    public async Task<double[]> SubmitAllAsync(CancellationToken cancellationToken)
    {
        var latencies = new double[_settings.Jobs];
        await ForEachAsync(Enumerable.Range(0, _settings.Jobs), async n =>
        {
            var started = Stopwatch.GetTimestamp();
            await SubmitAsync(n % _settings.Tenants, deadline: null, cancellationToken);
            latencies[n] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }, cancellationToken);
        return latencies;
    }

    /// <summary>Submits one job for tenant <paramref name="tenant"/> and keeps its id.</summary>
    public async Task<string> SubmitAsync(int tenant, DateTime? deadline, CancellationToken cancellationToken)
    {
        var job = await _tenants[tenant].SubmitAsync(
            new SubmitJobRequest { Model = StandaloneOnRedis.Model, Prompt = Prompt, MaxTokens = _settings.MaxTokens },
            deadline, cancellationToken);
        _jobs[job.JobId] = tenant;
        return job.JobId;
    }

    /// <summary>Looks one job up with its own tenant's key.</summary>
    public Task<Job> GetAsync(string jobId, DateTime? deadline, CancellationToken cancellationToken) =>
        _tenants[_jobs[jobId]].GetAsync(jobId, deadline, cancellationToken);

    /// <summary>Every job listed with <paramref name="status"/> (admin listing, pages of 500): how many listings, how
    /// many of the run's jobs were listed exactly once, twice or more, not at all, and listed jobs the run never made.</summary>
    public async Task<ListingCheck> CheckListingAsync(JobStatus status, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        var request = new ListJobsRequest { Model = StandaloneOnRedis.Model, Statuses = { status }, PageSize = 500 };
        do
        {
            var page = await Admin.ListJobsAsync(request, cancellationToken: cancellationToken);
            foreach (var job in page.Jobs)
            {
                seen[job.JobId] = seen.GetValueOrDefault(job.JobId) + 1;
            }

            request.PageToken = page.NextPageToken;
        }
        while (request.PageToken.Length > 0);

        return new ListingCheck(
            seen.Values.Sum(),
            _jobs.Keys.Count(id => seen.GetValueOrDefault(id) == 1),
            _jobs.Keys.Count(id => seen.GetValueOrDefault(id) > 1),
            _jobs.Keys.Count(id => !seen.ContainsKey(id)),
            seen.Keys.Count(id => !_jobs.ContainsKey(id)),
            Stopwatch.GetElapsedTime(started));
    }

    /// <summary><c>GetJob</c> of every job: how many were not in <paramref name="status"/> (or failed to answer), how
    /// many had another completion count than their max_tokens (a job run twice would show more), and the time it took.</summary>
    public async Task<(int WrongStatus, int WrongTokens, TimeSpan Took)> CheckEveryJobAsync(JobStatus status, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var wrongStatus = 0;
        var wrongTokens = 0;
        await ForEachAsync(_jobs.Keys.ToList(), async id =>
        {
            var job = await GetAsync(id, deadline: null, cancellationToken);
            if (job.Status != status)
            {
                Interlocked.Increment(ref wrongStatus);
            }
            else if (status == JobStatus.Completed && job.Usage.CompletionTokens != _settings.MaxTokens)
            {
                Interlocked.Increment(ref wrongTokens);
            }
        }, cancellationToken);
        return (wrongStatus, wrongTokens, Stopwatch.GetElapsedTime(started));
    }

    /// <summary>The run's tenants' counts summed: queued, running, submitted, completed, completion tokens.</summary>
    public async Task<TenantTotals> TenantTotalsAsync(CancellationToken cancellationToken)
    {
        var tenants = (await Admin.ListTenantsAsync(cancellationToken: cancellationToken))
            .Where(t => t.TenantId.StartsWith(TenantPrefix, StringComparison.Ordinal)).ToList();
        return new TenantTotals(
            tenants.Sum(t => (long)t.QueuedJobs), tenants.Sum(t => (long)t.RunningJobs), tenants.Sum(t => t.Usage.JobsSubmitted),
            tenants.Sum(t => t.Usage.JobsCompleted), tenants.Sum(t => t.Usage.CompletionTokens));
    }

    /// <summary>Uncordons every accelerator.</summary>
    public async Task UncordonAllAsync(CancellationToken cancellationToken)
    {
        foreach (var accelerator in await Admin.ListAcceleratorsAsync(cancellationToken: cancellationToken))
        {
            await Admin.UncordonAcceleratorAsync(accelerator.AcceleratorId, cancellationToken: cancellationToken);
        }
    }

    public void Dispose()
    {
        Admin.Dispose();
        foreach (var tenant in _tenants)
        {
            tenant.Dispose();
        }

        _channel.Dispose();
    }

    private static string TenantId(int i) => TenantPrefix + i.ToString("D3", CultureInfo.InvariantCulture);

    private static string TenantKey(int i) => "restart-bench-key-" + i.ToString("D3", CultureInfo.InvariantCulture);

    private Task ForEachAsync<T>(IEnumerable<T> items, Func<T, Task> body, CancellationToken cancellationToken) =>
        Parallel.ForEachAsync(items, new ParallelOptions { MaxDegreeOfParallelism = _settings.Concurrency, CancellationToken = cancellationToken },
            async (item, _) => await body(item));
}

/// <summary>A listing's count against the run's jobs.</summary>
internal sealed record ListingCheck(int Listed, int Once, int Twice, int Missing, int Foreign, TimeSpan Took);

/// <summary>The run's tenants' counts, summed.</summary>
internal sealed record TenantTotals(long Queued, long Running, long Submitted, long Completed, long CompletionTokens);
