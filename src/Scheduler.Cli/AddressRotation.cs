using System.Net.Http;
using Grpc.Core;
using Grpc.Net.Client;
using Scheduler.Protos.Tls;

namespace Scheduler.Cli;

/// <summary>
/// The scheduler's addresses as one call invoker: a call goes to the address that answered last (the first at the
/// start), and when it fails with UNAVAILABLE — connection refused or reset, the silo gone — to the next, round the
/// list, when <see cref="RetrySafety"/> says repeating it is safe. One channel per address, opened lazily by gRPC on the
/// first call that needs it. A server stream is moved only until its first message: after that its silo has begun
/// answering, and a repeat would start the answer over (<see cref="ResumingJobStream"/> resumes a job's stream instead). Once every address failed, the call throws
/// <see cref="SchedulerUnreachableException"/> naming each.
/// </summary>
internal sealed class AddressRotation : CallInvoker, IDisposable
{
    private readonly string[] _addresses;
    private readonly GrpcChannel[] _channels;
    private readonly CallInvoker[] _invokers;
    private int _current;

    public AddressRotation(IReadOnlyList<string> addresses, TrustedCa? trustedCa)
    {
        ArgumentOutOfRangeException.ThrowIfZero(addresses.Count);
        _addresses = [.. addresses];
        _channels = [.. _addresses.Select(a => SchedulerChannels.ToSilo(a, trustedCa, ConnectionLiveness.ToSilo))];
        _invokers = [.. _channels.Select(c => c.CreateCallInvoker())];
    }

    /// <summary>Every address, in the order given.</summary>
    public IReadOnlyList<string> Addresses => _addresses;

    /// <summary>The address calls go to first: the one that answered last.</summary>
    public string Current => _addresses[Volatile.Read(ref _current)];

    /// <summary>Sends the next calls to the address after <see cref="Current"/> first: a silo that ended a job's stream
    /// early may still answer (it drains), and its next stream would end the same way.</summary>
    public void MoveOn() => Volatile.Write(ref _current, (Volatile.Read(ref _current) + 1) % _addresses.Length);

    public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        AsyncUnaryCall(method, host, options, request).ResponseAsync.GetAwaiter().GetResult();

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        AsyncUnaryCall<TResponse>? answering = null;
        var response = RotateAsync(index =>
        {
            answering?.Dispose();
            answering = _invokers[index].AsyncUnaryCall(method, host, options, request);
            return answering.ResponseAsync;
        }, method, request, options.CancellationToken);
        return new AsyncUnaryCall<TResponse>(
            response,
            HeadersAsync(response, () => answering!.ResponseHeadersAsync),
            () => answering!.GetStatus(),
            () => answering!.GetTrailers(),
            () => answering?.Dispose());
    }

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        var stream = new RotatingStream<TResponse>(this, index => _invokers[index].AsyncServerStreamingCall(method, host, options, request), method, request);
        return new AsyncServerStreamingCall<TResponse>(
            stream, stream.HeadersAsync(), stream.GetStatus, stream.GetTrailers, stream.Close);
    }

    // Streams from the client carry state the rotation cannot replay; schedctl opens none. They go to the current address.
    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
        _invokers[Volatile.Read(ref _current)].AsyncClientStreamingCall(method, host, options);

    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
        _invokers[Volatile.Read(ref _current)].AsyncDuplexStreamingCall(method, host, options);

    public void Dispose()
    {
        foreach (var channel in _channels)
        {
            channel.Dispose();
        }
    }

    /// <summary>Runs <paramref name="attempt"/> on each address from the current one until one answers; that one
    /// becomes the current address.</summary>
    private async Task<T> RotateAsync<T>(Func<int, Task<T>> attempt, IMethod method, object? request, CancellationToken cancellationToken)
    {
        var start = Volatile.Read(ref _current);
        var tried = new List<(string, RpcException)>();
        for (var i = 0; i < _addresses.Length; i++)
        {
            var index = (start + i) % _addresses.Length;
            try
            {
                var answer = await attempt(index).ConfigureAwait(false);
                Volatile.Write(ref _current, index);
                return answer;
            }
            catch (RpcException e) when (!cancellationToken.IsCancellationRequested && Unavailable(e) is { } unavailable)
            {
                tried.Add((_addresses[index], unavailable));
                if (!RetrySafety.MayRetry(method, request, unavailable))
                {
                    throw new SchedulerUnreachableException(tried, _addresses.Length, SchedulerUnreachableException.NotRepeatable);
                }
            }
        }

        throw new SchedulerUnreachableException(tried, _addresses.Length, stoppedBecause: null);
    }

    /// <summary><paramref name="failure"/> as UNAVAILABLE when it says the silo cannot be reached: UNAVAILABLE itself, or
    /// a connection that failed under the call at the HTTP/2 level — above all one given up because the silo did not
    /// answer its ping (<see cref="ConnectionLiveness.ToSilo"/>), which gRPC reports as INTERNAL, as it does any HTTP/2 protocol error.
    /// No silo answered such a call with a status of its own. Null for an answer (a refusal, a silo's own error).</summary>
    private static RpcException? Unavailable(RpcException failure)
    {
        if (failure.StatusCode == StatusCode.Unavailable)
        {
            return failure;
        }

        for (var cause = failure.Status.DebugException; cause is not null; cause = cause.InnerException)
        {
            if (cause is HttpProtocolException)
            {
                return new RpcException(new Status(StatusCode.Unavailable, "the connection failed", failure.Status.DebugException));
            }
        }

        return null;
    }

    private static async Task<Metadata> HeadersAsync<T>(Task<T> answered, Func<Task<Metadata>> headers)
    {
        try
        {
            await answered.ConfigureAwait(false);
        }
        catch (RpcException)
        {
            // The headers of the call that failed last, as a single call's would be.
        }

        return await headers().ConfigureAwait(false);
    }

    /// <summary>A server stream that starts on the next address while it has received nothing.</summary>
    private sealed class RotatingStream<TResponse>(AddressRotation rotation, Func<int, AsyncServerStreamingCall<TResponse>> start, IMethod method, object? request)
        : IAsyncStreamReader<TResponse>
    {
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private AsyncServerStreamingCall<TResponse>? _call;
        private bool _received;
        private int _index;

        public TResponse Current => _call!.ResponseStream.Current;

        public async Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            if (_received)
            {
                try
                {
                    return await _call!.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false);
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && !cancellationToken.IsCancellationRequested)
                {
                    // Lost after it began answering: named, and not started over here (a job's stream is resumed
                    // from its next token by ResumingJobStream).
                    throw new SchedulerUnreachableException([(rotation._addresses[_index], e)], rotation._addresses.Length, SchedulerUnreachableException.StreamBegun);
                }
            }

            try
            {
                // The first message decides where the stream runs; a stream that ends with none is an answer too.
                return await rotation.RotateAsync(async index =>
                {
                    _call?.Dispose();
                    _call = start(index);
                    _index = index;
                    var moved = await _call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false);
                    _received = true;
                    return moved;
                }, method, request, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _started.TrySetResult();
            }
        }

        public async Task<Metadata> HeadersAsync()
        {
            await _started.Task.ConfigureAwait(false);
            return await _call!.ResponseHeadersAsync.ConfigureAwait(false);
        }

        public Status GetStatus() => _call!.GetStatus();

        public Metadata GetTrailers() => _call!.GetTrailers();

        // The call's own disposal: ends the call the stream is on (the calls before it were disposed when it started).
        public void Close() => _call?.Dispose();
    }
}
