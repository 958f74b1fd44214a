using Grpc.Core;
using Scheduler.Protos.V1;
using Scheduler.Worker.Engines;

namespace Scheduler.Worker.Services;

/// <summary>
/// Keeps at most one Execute stream active. A new stream supersedes the previous one and starts only once the
/// previous one is closed and its sequences are gone, so no report about them can reach the new stream.
/// </summary>
internal sealed class ExecuteSessions(StepReportRouter router, ReplicaEngines engines)
{
    private readonly Lock _gate = new();
    private ExecuteSession? _newest;
    private int _dropped;

    /// <summary>How many running sequences closed streams have dropped since the node started (the scheduler handed
    /// them back): a drain tells those apart from the sequences it saw finish.</summary>
    public int Dropped => Volatile.Read(ref _dropped);

    /// <summary>Opens a session writing to <paramref name="stream"/>, superseding and awaiting the one before.</summary>
    public async Task<ExecuteSession> OpenAsync(IServerStreamWriter<ExecuteEvent> stream, CancellationToken callCancelled)
    {
        var session = new ExecuteSession(callCancelled);
        ExecuteSession? previous;
        lock (_gate)
        {
            previous = _newest;
            _newest = session;

            // Under the gate: a session is disposed under it too, and only after it stopped being the newest.
            previous?.Supersede();
        }

        if (previous is not null)
        {
            await previous.Closed;
        }

        router.Attach(session.Outgoing);
        session.StartWriting(stream);
        return session;
    }

    /// <summary>Ends the open stream, if any, so a stopping host is not held open by the scheduler's stream.</summary>
    public void EndAll()
    {
        lock (_gate)
        {
            _newest?.End();
        }
    }

    /// <summary>Ends the open stream, if any, once the reports already queued went out (the engines have settled: the
    /// last ones carry their finishes); a peer that does not read them within <paramref name="grace"/> is cut off.</summary>
    public Task EndAfterSentAsync(TimeSpan grace)
    {
        ExecuteSession? session;
        lock (_gate)
        {
            session = _newest;
        }

        return session?.EndAfterSentAsync(grace) ?? Task.CompletedTask;
    }

    /// <summary>Ends a session: its sequences are dropped silently (the scheduler re-dispatches them) and its writer stops.</summary>
    /// <returns>How many running sequences the close dropped (the scheduler hands them back).</returns>
    public async Task<int> CloseAsync(ExecuteSession session)
    {
        router.Detach(session.Outgoing);
        var dropped = engines.CancelAllSilently();
        Interlocked.Add(ref _dropped, dropped);
        await session.StopAsync();
        lock (_gate)
        {
            if (_newest == session)
            {
                _newest = null;
            }

            session.Dispose();
        }

        return dropped;
    }
}
