using Scheduler.Abstractions.Jobs;
using Scheduler.Grains.Jobs;

namespace Scheduler.Tests.Grains;

/// <summary>The grain tests' journal: the silo's memory journal, whose settling a test can hold, to see what happens
/// before a job's record holds its end, and whose acceptance of one model's jobs a test can make fail, as Redis failing
/// mid-submission does, whose settling of one model's jobs a test can make fail, as Redis unreachable does, and whose lookups of a job's settled record a test can wait for, to act between a record's
/// look at the job's placement and its next step.</summary>
internal sealed class GatedJobJournal(MemoryJobJournal inner) : IJobJournal
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _failing = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _refusing = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, TaskCompletionSource> _lookups = new(StringComparer.Ordinal);
    private TaskCompletionSource _open = Opened();

    /// <summary>Accepting a job of <paramref name="model"/> throws until the returned handle is disposed.</summary>
    public IDisposable FailAccepts(string model)
    {
        _failing[model] = true;
        return new Restore(() => _failing.TryRemove(model, out _));
    }

    /// <summary>Settling a job of <paramref name="model"/> throws until the returned handle is disposed.</summary>
    public IDisposable RefuseSettles(string model)
    {
        _refusing[model] = true;
        return new Restore(() => _refusing.TryRemove(model, out _));
    }

    public bool OutlivesSilo => inner.OutlivesSilo;

    /// <summary>Settling waits until the returned handle is disposed.</summary>
    public IDisposable HoldSettles()
    {
        _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return new Release(_open);
    }

    public Task Accept(JobTicket ticket) => _failing.ContainsKey(ticket.Request.Model)
        ? Task.FromException(new TimeoutException($"the journal did not answer (a test failing model '{ticket.Request.Model}')"))
        : inner.Accept(ticket);

    public Task Add(JobTicket ticket) => inner.Add(ticket);

    public Task Remove(string model, string jobId) => inner.Remove(model, jobId);

    public ValueTask<JobTicket?> Find(string jobId) => inner.Find(jobId);

    public IAsyncEnumerable<IReadOnlyList<JobTicket>> LoadPages(string model) => inner.LoadPages(model);

    public async Task<SettledJob> Settle(SettledJob job)
    {
        await _open.Task;
        var model = job.Ticket.Request.Model;
        return _refusing.ContainsKey(model)
            ? throw new TimeoutException($"the journal did not answer (a test refusing the records of model '{model}')")
            : await inner.Settle(job);
    }

    /// <summary>Completes once the settled record of <paramref name="jobId"/> was next looked for (after the look).</summary>
    public Task NextSettledLookup(string jobId) =>
        _lookups.GetOrAdd(jobId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    public async ValueTask<SettledJob?> FindSettled(string jobId)
    {
        var found = await inner.FindSettled(jobId);
        if (_lookups.TryRemove(jobId, out var lookup))
        {
            lookup.SetResult();
        }

        return found;
    }

    private static TaskCompletionSource Opened()
    {
        var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        open.SetResult();
        return open;
    }

    private sealed class Release(TaskCompletionSource gate) : IDisposable
    {
        public void Dispose() => gate.TrySetResult();
    }

    private sealed class Restore(Action restore) : IDisposable
    {
        public void Dispose() => restore();
    }
}
