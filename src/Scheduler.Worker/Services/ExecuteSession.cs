using System.Threading.Channels;
using Grpc.Core;
using Scheduler.Protos.V1;

namespace Scheduler.Worker.Services;

/// <summary>
/// One open Execute stream: its outgoing queue and the single loop that drains it onto the wire (gRPC allows
/// one write at a time, and reports come from every engine's thread), plus its lifetime.
/// </summary>
internal sealed class ExecuteSession(CancellationToken callCancelled) : IDisposable
{
    // Bounded: engines wait for room rather than run ahead of a slow network (see IStepReportSink).
    private const int OutgoingCapacity = 128;

    // How long a closing session lets the write under way finish; a peer that reads nothing for this long is reset.
    private static readonly TimeSpan WriteGrace = TimeSpan.FromSeconds(1);

    // A write that only appends to the HTTP/2 stream, and one that also sends what was appended (see WriteAsync).
    private static readonly WriteOptions Buffered = new(WriteFlags.BufferHint);
    private static readonly WriteOptions Flushing = new();

    private readonly Channel<ExecuteEvent> _outgoing = Channel.CreateBounded<ExecuteEvent>(
        new BoundedChannelOptions(OutgoingCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly CancellationTokenSource _lifetime = CancellationTokenSource.CreateLinkedTokenSource(callCancelled);

    // Separate from the lifetime: cancelling a write resets the HTTP/2 stream, and the superseded peer should
    // rather get its ABORTED status.
    private readonly CancellationTokenSource _abortWrite = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _writer = Task.CompletedTask;
    private int _superseded;

    /// <summary>Fires when the call ends, the peer stops reading, or a newer stream supersedes this one.</summary>
    public CancellationToken Cancellation => _lifetime.Token;

    public ChannelWriter<ExecuteEvent> Outgoing => _outgoing.Writer;

    public bool Superseded => Volatile.Read(ref _superseded) == 1;

    /// <summary>Completes once the session is closed and its engines hold none of its sequences.</summary>
    public Task Closed => _closed.Task;

    public ValueTask SendAsync(StepReport report) => _outgoing.Writer.WriteAsync(new ExecuteEvent { Step = report }, _lifetime.Token);

    public void StartWriting(IServerStreamWriter<ExecuteEvent> stream) => _writer = WriteAsync(stream);

    public void Supersede()
    {
        Volatile.Write(ref _superseded, 1);
        _lifetime.Cancel();
    }

    /// <summary>Ends the stream from this side (the node is shutting down); the scheduler re-dispatches its sequences.</summary>
    public void End() => _lifetime.Cancel();

    /// <summary>Ends the stream once what is queued was written: nothing more is taken, the writer empties the queue,
    /// then the call ends. A write the peer does not take within <paramref name="grace"/> is not waited for.</summary>
    public async Task EndAfterSentAsync(TimeSpan grace)
    {
        _outgoing.Writer.TryComplete();
        try
        {
            await _writer.WaitAsync(grace);
        }
        catch (TimeoutException)
        {
            // Ended below regardless; StopAsync resets a write still stuck.
        }

        try
        {
            await _lifetime.CancelAsync();
        }
        catch (ObjectDisposedException)
        {
            // The call ended meanwhile (its peer went away, or ending it here let its handler close it first), and
            // closing disposed the session: it has ended. Taken from the sessions outside their gate, so this can race.
        }
    }

    /// <summary>Stops the writer loop; what is still queued concerns sequences that were just dropped.</summary>
    public async Task StopAsync()
    {
        _outgoing.Writer.TryComplete();
        await _lifetime.CancelAsync();
        try
        {
            await _writer.WaitAsync(WriteGrace);
        }
        catch (TimeoutException)
        {
            await _abortWrite.CancelAsync();
            await _writer;
        }

        _closed.TrySetResult();
    }

    public void Dispose()
    {
        _lifetime.Dispose();
        _abortWrite.Dispose();
    }

    private async Task WriteAsync(IServerStreamWriter<ExecuteEvent> stream)
    {
        try
        {
            // Reports that queued up while a write was under way go out in one flush (one frame batch, one socket
            // write) instead of one each: the socket writes were a third of a job's CPU. The last report waiting is
            // always flushed, so nothing is held back when the stream keeps up.
            var reader = _outgoing.Reader;
            while (await reader.WaitToReadAsync(_lifetime.Token))
            {
                while (reader.TryRead(out var message))
                {
                    stream.WriteOptions = reader.TryPeek(out _) ? Buffered : Flushing;
                    await stream.WriteAsync(message, _abortWrite.Token);
                }
            }
        }
        catch (OperationCanceledException) when (_lifetime.IsCancellationRequested)
        {
            // Closing (or closed while the peer stalled a write).
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException)
        {
            // The peer is gone: end the session so the command loop stops too.
            await _lifetime.CancelAsync();
        }
    }
}
