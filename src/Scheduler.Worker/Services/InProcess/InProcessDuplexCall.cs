using System.Diagnostics.CodeAnalysis;
using System.Threading.Channels;
using Grpc.Core;

namespace Scheduler.Worker.Services.InProcess;

/// <summary>
/// One duplex-streaming call served by a handler in this process: the messages cross by reference through two bounded
/// queues, with no serialization, HTTP/2 framing or socket. What each side sees keeps the shape of a gRPC call over a
/// socket, which is what the handler and the caller were written against: the caller's writes wait while the handler
/// falls behind (as flow control would make them), the response stream ends when the handler returns and fails with its
/// <see cref="RpcException"/> when it throws, and disposing the call or cancelling its token cancels the handler's
/// <see cref="ServerCallContext.CancellationToken"/>.
/// </summary>
/// <remarks>A message written is owned by the other side from then on: both writers here (the silo's node link and the
/// worker's session) build a new message for every write and never touch it again.</remarks>
[SuppressMessage("Reliability", "CA1001", Justification = "A token source with no timer holds nothing to release, and the handler's linked tokens may outlive the call.")]
internal sealed class InProcessDuplexCall<TRequest, TResponse>
    where TRequest : class
    where TResponse : class
{
    // About what HTTP/2's default 64 KB stream window holds of these messages: enough that neither side waits on a
    // healthy peer, few enough that a stalled one holds back its writer instead of memory.
    private const int QueueCapacity = 128;

    private readonly Channel<TRequest> _requests = Channel.CreateBounded<TRequest>(new BoundedChannelOptions(QueueCapacity) { SingleReader = true, SingleWriter = true });
    private readonly Channel<TResponse> _responses = Channel.CreateBounded<TResponse>(new BoundedChannelOptions(QueueCapacity) { SingleReader = true, SingleWriter = true });
    private readonly CancellationTokenSource _cancelled = new();
    private readonly InProcessServerCallContext _context;
    private readonly CancellationTokenRegistration _callerCancels;
    private Status _status = Status.DefaultCancelled;
    private int _ended;

    private InProcessDuplexCall(string method, CancellationToken callerToken)
    {
        _context = new InProcessServerCallContext(method, _cancelled.Token);
        _callerCancels = callerToken.UnsafeRegister(static call => ((InProcessDuplexCall<TRequest, TResponse>)call!).Cancel(), this);
    }

    /// <summary>Starts <paramref name="handler"/> on the thread pool and returns the caller's side of the call.</summary>
    public static AsyncDuplexStreamingCall<TRequest, TResponse> Start(
        string method,
        Func<IAsyncStreamReader<TRequest>, IServerStreamWriter<TResponse>, ServerCallContext, Task> handler,
        CallOptions options)
    {
        var call = new InProcessDuplexCall<TRequest, TResponse>(method, options.CancellationToken);
        _ = Task.Run(() => call.Serve(handler));
        return new AsyncDuplexStreamingCall<TRequest, TResponse>(
            new RequestWriter(call),
            new ResponseReader(call),
            Task.FromResult(new Metadata()),
            () => call._status,
            () => [],
            call.Cancel);
    }

    private async Task Serve(Func<IAsyncStreamReader<TRequest>, IServerStreamWriter<TResponse>, ServerCallContext, Task> handler)
    {
        Status status;
        try
        {
            await handler(new RequestReader(this), new ResponseWriter(this), _context);
            status = Status.DefaultSuccess;
        }
        catch (RpcException ex)
        {
            status = ex.Status;
        }
        catch (OperationCanceledException) when (_cancelled.IsCancellationRequested)
        {
            status = Status.DefaultCancelled;
        }
        catch (Exception ex)
        {
            // What a gRPC server answers for a handler's unexpected exception, without its details.
            status = new Status(StatusCode.Unknown, "Exception was thrown by handler.", ex);
        }

        if (Interlocked.Exchange(ref _ended, 1) == 1)
        {
            return;
        }

        // The caller's writes fail from now on, as over a socket; the responses already queued are still read.
        _status = status;
        _requests.Writer.TryComplete(new InvalidOperationException("The call has ended."));
        _responses.Writer.TryComplete(status.StatusCode == StatusCode.OK ? null : new RpcException(status));
        _callerCancels.Unregister();
    }

    /// <summary>Ends the call from the caller's side (disposed, or its token cancelled): the handler's token fires, and
    /// both streams fail from now on.</summary>
    private void Cancel()
    {
        if (Interlocked.Exchange(ref _ended, 1) == 1)
        {
            return;
        }

        // In this order because the token's callbacks run the handler on: woken by it, the handler must find its writes
        // failing already, and a read of the requests ending must find the token cancelled (the call cancelled, not
        // completed by the caller).
        _responses.Writer.TryComplete(new RpcException(Status.DefaultCancelled));
        _cancelled.Cancel();
        _requests.Writer.TryComplete();
        _callerCancels.Unregister();
    }

    /// <summary>The caller's request stream.</summary>
    private sealed class RequestWriter(InProcessDuplexCall<TRequest, TResponse> call) : QueueWriter<TRequest>(call._requests.Writer), IClientStreamWriter<TRequest>
    {
        public Task CompleteAsync()
        {
            call._requests.Writer.TryComplete();
            return Task.CompletedTask;
        }

        protected override Exception Closed(ChannelClosedException ex) =>
            call._cancelled.IsCancellationRequested ? new RpcException(Status.DefaultCancelled) : ex;
    }

    /// <summary>The caller's response stream: ends when the handler returns, throws its status when it fails.</summary>
    private sealed class ResponseReader(InProcessDuplexCall<TRequest, TResponse> call) : QueueReader<TResponse>(call._responses.Reader)
    {
        // As Grpc.Net.Client: cancelling a read cancels the call.
        protected override Exception ReadCancelled(OperationCanceledException ex)
        {
            call.Cancel();
            return new RpcException(Status.DefaultCancelled);
        }
    }

    /// <summary>The handler's request stream.</summary>
    private sealed class RequestReader(InProcessDuplexCall<TRequest, TResponse> call) : QueueReader<TRequest>(call._requests.Reader)
    {
        protected override Exception ReadCancelled(OperationCanceledException ex) => ex;

        // Completed by the caller, or by a dispose: a server sees the latter as the call cancelled.
        protected override void Ended() => call._cancelled.Token.ThrowIfCancellationRequested();
    }

    /// <summary>Either side's reads, from its own queue. Cancelling the call completes the queue, which wakes a read:
    /// no need to watch the call's token beside the reader's.</summary>
    private abstract class QueueReader<T>(ChannelReader<T> queue) : IAsyncStreamReader<T>
    {
        public T Current { get; private set; } = default!;

        public async Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            try
            {
                while (await queue.WaitToReadAsync(cancellationToken))
                {
                    if (queue.TryRead(out var message))
                    {
                        Current = message;
                        return true;
                    }
                }
            }
            catch (OperationCanceledException ex) when (cancellationToken.IsCancellationRequested)
            {
                throw ReadCancelled(ex);
            }

            Ended();
            return false;
        }

        /// <summary>What a read cancelled by the reader's token throws.</summary>
        protected abstract Exception ReadCancelled(OperationCanceledException ex);

        /// <summary>Called when the queue has ended without an error.</summary>
        protected virtual void Ended()
        {
        }
    }

    /// <summary>The handler's response stream.</summary>
    private sealed class ResponseWriter(InProcessDuplexCall<TRequest, TResponse> call) : QueueWriter<TResponse>(call._responses.Writer), IServerStreamWriter<TResponse>
    {
        // The caller went away: over a socket the write would fail the same way.
        protected override Exception Closed(ChannelClosedException ex) => new InvalidOperationException("The call has ended.", ex);
    }

    /// <summary>Either side's writes: into the other side's queue, waiting while it is full (cancelling the call
    /// completes the queue, which fails a write waiting for room).</summary>
    private abstract class QueueWriter<T>(ChannelWriter<T> queue) : IAsyncStreamWriter<T>
    {
        public WriteOptions? WriteOptions { get; set; }

        public Task WriteAsync(T message) => WriteAsync(message, CancellationToken.None);

        public async Task WriteAsync(T message, CancellationToken cancellationToken)
        {
            try
            {
                await queue.WriteAsync(message, cancellationToken);
            }
            catch (ChannelClosedException ex)
            {
                throw Closed(ex);
            }
        }

        /// <summary>What the write throws once the queue is closed.</summary>
        protected abstract Exception Closed(ChannelClosedException ex);
    }
}
