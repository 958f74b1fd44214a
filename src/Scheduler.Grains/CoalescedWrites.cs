namespace Scheduler.Grains;

/// <summary>
/// One grain's state writes, shared by the calls that interleave with them: a caller that changed the state waits for
/// <see cref="AfterNextWrite"/>, a write that began after its change; callers that come while a write is under way all
/// share the one after it. Why: a grain that writes its whole state for each change (the audit log's 2,000 events, a
/// third of a megabyte in Redis) otherwise writes it once per caller, one after another, and a script's burst of admin
/// calls queues behind those writes. Runs on its grain's scheduler, one turn at a time, so it needs no lock.
/// </summary>
internal sealed class CoalescedWrites(Func<Task> write)
{
    // The write in progress, and the one that starts when it ends (shared by every caller since it began).
    private Task? _underWay;
    private Task? _queued;

    /// <summary>Completes once a write that began after this call has completed; faults as that write does.</summary>
    public Task AfterNextWrite()
    {
        if (_underWay is null || _underWay.IsCompleted)
        {
            return _underWay = write();
        }

        return _queued ??= WriteAfter(_underWay);
    }

    private async Task WriteAfter(Task underWay)
    {
        // Back on the grain's scheduler whether the write before succeeded or not: this one writes the state as it is now.
        await underWay.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);

        // A change from here on is not in this write's snapshot: its caller waits for the next one.
        _queued = null;
        var writing = write();
        _underWay = writing;
        await writing;
    }
}
