using Grpc.Core;

namespace Scheduler.Silo.Api;

/// <summary>
/// One response stream that many jobs' forwarders write to (a gRPC stream takes one write at a time). A writer writes
/// itself, under a gate, rather than handing its message to a writer task: a job alone on the call reaches the socket
/// without a thread hop. A write flushes only when no other write is waiting and its own job has nothing more ready, so
/// the events of one engine step, many jobs', leave in one socket write; the last write of a run always flushes.
/// </summary>
internal sealed class SharedResponseStream<T>(IServerStreamWriter<T> stream, CancellationTokenSource call) : IDisposable
{
    // A write that only appends to the HTTP/2 stream; the next write without it sends both.
    private static readonly WriteOptions Buffered = new(WriteFlags.BufferHint);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private int _writers;
    private Exception? _failure;

    /// <summary>What broke a write, if one broke.</summary>
    public Exception? Failure => Volatile.Read(ref _failure);

    /// <summary>Writes <paramref name="message"/>; <paramref name="moreReady"/> says its writer has another at once. A
    /// failed write cancels <c>call</c>: nothing more can reach the client.</summary>
    public async Task WriteAsync(T message, bool moreReady)
    {
        Interlocked.Increment(ref _writers);
        try
        {
            await _gate.WaitAsync(call.Token);
        }
        catch
        {
            Interlocked.Decrement(ref _writers);
            throw;
        }

        try
        {
            var othersWaiting = Interlocked.Decrement(ref _writers) > 0;
            stream.WriteOptions = othersWaiting || moreReady ? Buffered : null;
            await stream.WriteAsync(message, call.Token);
        }
        catch (Exception ex)
        {
            Interlocked.CompareExchange(ref _failure, ex, null);
            await call.CancelAsync();
            throw;
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose() => _gate.Dispose();
}
