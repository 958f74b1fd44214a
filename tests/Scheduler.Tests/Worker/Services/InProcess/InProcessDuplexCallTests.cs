using Grpc.Core;
using Scheduler.Worker.Services.InProcess;

namespace Scheduler.Tests.Worker.Services.InProcess;

/// <summary>The in-process call keeps the shape of a gRPC duplex call over a socket, which the node link and the
/// worker's Execute handler were written against.</summary>
public sealed class InProcessDuplexCallTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Call_MessagesCrossInOrder_AndTheResponseStreamEndsWhenTheHandlerReturns()
    {
        // An echo handler that upper-cases every request until the caller completes its stream.
        using var call = Start(async (requests, responses, _) =>
        {
            while (await requests.MoveNext(CancellationToken.None))
            {
                await responses.WriteAsync(requests.Current.ToUpperInvariant());
            }
        });

        foreach (var word in new[] { "a", "b", "c" })
        {
            await call.RequestStream.WriteAsync(word);
        }

        await call.RequestStream.CompleteAsync();
        var answers = await call.ResponseStream.ReadAllAsync().ToListAsync().AsTask().WaitAsync(Timeout);

        Assert.Equal(["A", "B", "C"], answers);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task Call_HandlerThrowsRpcException_TheCallerReadsItsStatusAfterTheResponsesWrittenBefore()
    {
        using var call = Start(async (_, responses, _) =>
        {
            await responses.WriteAsync("last words");
            throw new RpcException(new Status(StatusCode.Aborted, "A newer Execute stream replaced this one."));
        });

        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Timeout));
        Assert.Equal("last words", call.ResponseStream.Current);
        var failed = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Timeout));

        Assert.Equal((StatusCode.Aborted, "A newer Execute stream replaced this one."), (failed.StatusCode, failed.Status.Detail));
        Assert.Equal(StatusCode.Aborted, call.GetStatus().StatusCode);
        await Assert.ThrowsAnyAsync<InvalidOperationException>(() => call.RequestStream.WriteAsync("too late"));
    }

    [Fact]
    public async Task Call_HandlerThrowsAnythingElse_TheCallerReadsUnknownWithoutTheExceptionsText()
    {
        using var call = Start((_, _, _) => throw new InvalidOperationException("secret detail"));

        var failed = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Timeout));

        Assert.Equal(StatusCode.Unknown, failed.StatusCode);
        Assert.DoesNotContain("secret detail", failed.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dispose_CancelsTheHandlersToken_AndItsWritesFail()
    {
        var handlerToken = new TaskCompletionSource<CancellationToken>();
        var writeAfterCancel = new TaskCompletionSource<Exception?>();
        var call = Start((_, responses, context) =>
        {
            var ended = new TaskCompletionSource();

            // A callback on the token runs inside the dispose, the earliest a handler can learn of it: the write must
            // fail already there (it once succeeded when the handler was woken before the stream was closed).
            context.CancellationToken.Register(() =>
            {
                try
                {
                    responses.WriteAsync("after the caller left").GetAwaiter().GetResult();
                    writeAfterCancel.SetResult(null);
                }
                catch (Exception ex)
                {
                    writeAfterCancel.SetResult(ex);
                }

                ended.SetResult();
            });
            handlerToken.SetResult(context.CancellationToken);
            return ended.Task;
        });
        var token = await handlerToken.Task.WaitAsync(Timeout);

        call.Dispose();

        Assert.True(token.IsCancellationRequested);
        Assert.IsAssignableFrom<InvalidOperationException>(await writeAfterCancel.Task.WaitAsync(Timeout));
        Assert.Equal(StatusCode.Cancelled, (await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None))).StatusCode);
    }

    [Fact]
    public async Task CallersToken_Cancelled_CancelsTheHandlersToken_AndAPendingReadEndsCancelled()
    {
        using var callerToken = new CancellationTokenSource();
        var handlerToken = new TaskCompletionSource<CancellationToken>();
        using var call = InProcessDuplexCall<string, string>.Start("/test/Echo", (_, _, context) =>
        {
            handlerToken.SetResult(context.CancellationToken);
            return Task.Delay(System.Threading.Timeout.Infinite, context.CancellationToken);
        }, new CallOptions(cancellationToken: callerToken.Token));
        var token = await handlerToken.Task.WaitAsync(Timeout);
        var read = call.ResponseStream.MoveNext(CancellationToken.None);

        await callerToken.CancelAsync();

        Assert.True(token.IsCancellationRequested);
        Assert.Equal(StatusCode.Cancelled, (await Assert.ThrowsAsync<RpcException>(() => read.WaitAsync(Timeout))).StatusCode);
    }

    [Fact]
    public async Task RequestStream_HandlerNotReading_WritesWaitForRoom()
    {
        var release = new TaskCompletionSource();
        using var call = Start(async (requests, _, _) =>
        {
            await release.Task;
            while (await requests.MoveNext(CancellationToken.None))
            {
            }
        });

        // The queue takes a bounded number of messages; the next write waits, as flow control would make it.
        var written = 0;
        Task write;
        while ((write = call.RequestStream.WriteAsync("message")).IsCompleted)
        {
            await write;
            written++;
            Assert.True(written <= 1_000, "the request queue is unbounded");
        }

        await Task.Delay(50);
        Assert.False(write.IsCompleted);
        release.SetResult();
        await write.WaitAsync(Timeout);
        Assert.True(written >= 1, "no write went through before the queue filled");
    }

    private static AsyncDuplexStreamingCall<string, string> Start(Func<IAsyncStreamReader<string>, IServerStreamWriter<string>, ServerCallContext, Task> handler) =>
        InProcessDuplexCall<string, string>.Start("/test/Echo", handler, default);
}
