using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Grpc.Core;
using Microsoft.AspNetCore.Http.Features;

namespace Scheduler.Silo.Api;

/// <summary>
/// The request body of a call whose messages come one after another (StreamJobs; server reflection's too), as
/// grpc-dotnet reads it: each message is held to the silo's <see cref="RequestBodyBudget"/> while grpc-dotnet buffers
/// and parses it — reserved the first time a read shows its frame header, before grpc-dotnet waits for the rest, and
/// given back when grpc-dotnet consumes it, which it does once it has parsed it (or failed to), and only ever whole
/// messages (its PipeExtensions.ReadStreamMessageAsync: a read that lacks the rest of a message advances to the
/// buffer's start, one that has it past the message). A message that does not fit
/// fails the read with the budget's refusal (RESOURCE_EXHAUSTED, overloaded, a retry hint), which ends the call. Read
/// by one reader at a time, as any <see cref="PipeReader"/>.
/// </summary>
internal sealed class HeldMessageReader(HttpContext call, RequestMessageBudget messages) : PipeReader, IRequestBodyPipeFeature, IDisposable
{
    private readonly PipeReader _body = call.Request.BodyReader;

    private RequestBodyBudget.Lease? _held;

    // Where the last read's buffer started: a message is consumed when grpc-dotnet advances past it.
    private SequencePosition _start;

    public PipeReader Reader => this;

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        var pending = _body.ReadAsync(cancellationToken);
        return pending.IsCompletedSuccessfully ? new(Hold(pending.Result)) : Awaited(pending);
    }

    public override bool TryRead(out ReadResult result)
    {
        if (!_body.TryRead(out result))
        {
            return false;
        }

        Hold(result);
        return true;
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        if (!consumed.Equals(_start))
        {
            Release();
        }

        _body.AdvanceTo(consumed, examined);
    }

    public override void CancelPendingRead() => _body.CancelPendingRead();

    public override void Complete(Exception? exception = null)
    {
        Release();
        _body.Complete(exception);
    }

    /// <summary>Gives back what a message the call ended in (its client gone mid-message, a deadline) still holds.</summary>
    public void Dispose() => _held?.Dispose();

    // Pooled: a long call reads many messages, and most wait for theirs.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadResult> Awaited(ValueTask<ReadResult> pending) => Hold(await pending);

    private ReadResult Hold(ReadResult read)
    {
        _start = read.Buffer.Start;
        if (_held is null)
        {
            try
            {
                // The call is authenticated by now: grpc-dotnet reads no message before its interceptors ran.
                _held = messages.Reserve(read.Buffer, AuthInterceptor.BudgetShareOf(call));
            }
            catch (RpcException)
            {
                // The read is over for the caller, which gets the refusal instead of the buffer.
                _body.AdvanceTo(read.Buffer.Start);
                throw;
            }
        }

        return read;
    }

    // A lease gives its bytes back once, however many times it is disposed: a read racing the call's end cannot give
    // them back twice.
    private void Release()
    {
        _held?.Dispose();
        _held = null;
    }
}
