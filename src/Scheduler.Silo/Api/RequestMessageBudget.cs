using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace Scheduler.Silo.Api;

/// <summary>
/// Holds the gRPC door's request messages to the silo's <see cref="RequestBodyBudget"/>, as the OpenAI door's bodies
/// are: grpc-dotnet buffers a message whole before any of the silo's code runs, so 40 concurrent 8 MB SubmitJob calls
/// took a standalone silo from 0.24 GB to 0.82 GB, 1.23 GB at the peak of eight bursts. As middleware, for a unary or server-streaming call (one request
/// message), it checks the call's key (<see cref="AuthInterceptor.Authenticate"/>, which grpc-dotnet would otherwise
/// leave until the message is parsed), then reads the message's 5-byte frame header ahead of grpc-dotnet, consuming
/// nothing, and reserves the length it declares (a compressed message: the most one may hold decoded); a call refused
/// either way is answered before its message is read, one that does not fit RESOURCE_EXHAUSTED marked overloaded with
/// a retry hint. As the outermost interceptor it gives the bytes back once the message is parsed, as the handler
/// starts; otherwise the middleware gives them back when the call ends (a message that did not parse, a client gone
/// mid-message, a deadline). The wait for the frame header comes before grpc-dotnet starts the call's deadline, so it
/// keeps the call's <c>grpc-timeout</c> itself, and leaves grpc-dotnet what is left of it: a client that sends its
/// headers and nothing more is answered DEADLINE_EXCEEDED at its deadline, as grpc-dotnet would (without it, Kestrel's
/// minimum request body data rate closed the connection after its 5 s grace: 200 ms asked, closed after 6 s), and one
/// whose message comes late has no more time than it asked.
/// A client- or duplex-streaming call's messages (StreamJobs') come one at a time for as long as the call lasts: each is
/// held from its frame header until grpc-dotnet has parsed it (<see cref="HeldMessageReader"/>), and one that does not
/// fit ends the call with the same refusal (its accepted jobs run on).
/// </summary>
internal sealed class RequestMessageBudget(RequestBodyBudget budget, AuthInterceptor auth, IOptions<ApiOptions> options) : Interceptor, IMiddleware
{
    // A gRPC message's frame: a compressed flag byte, then the message's length as 4 bytes big-endian.
    private const int FrameHeader = 5;

    // A timer's longest (CancellationTokenSource's bound); a deadline further off is as good as none: Kestrel's minimum
    // request body data rate ends a silent call long before.
    private static readonly TimeSpan LongestDeadline = TimeSpan.FromDays(49);

    private readonly int _largest = options.Value.MaxReceiveMessageBytes;

    public Task InvokeAsync(HttpContext context, RequestDelegate next) =>
        context.GetEndpoint()?.Metadata.GetMetadata<GrpcMethodMetadata>()?.Method.Type switch
        {
            MethodType.Unary or MethodType.ServerStreaming => Hold(context, next),
            MethodType.ClientStreaming or MethodType.DuplexStreaming => HoldEach(context, next),
            _ => next(context),
        };

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Release(context);
        return continuation(request, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Release(context);
        return continuation(request, responseStream, context);
    }

    // A handler's request is parsed whole (grpc-dotnet waited for the end of the request stream, too): what it costs
    // from here on is the job's, bounded by the job's own limits.
    private static void Release(ServerCallContext context) => context.GetHttpContext().Features.Get<RequestBodyBudget.Lease>()?.Dispose();

    private async Task Hold(HttpContext context, RequestDelegate next)
    {
        RequestBodyBudget.Lease? lease;
        try
        {
            // The key first, as the OpenAI door checks it: a client without one neither holds the budget nor has its
            // message read.
            await auth.Authenticate(context);
            lease = await Reserve(context.Request);
        }
        catch (RpcException refusal)
        {
            Refuse(context.Response, refusal);
            return;
        }
        catch (Exception)
        {
            // The key could not be checked (Redis does not answer, a silo failed): left to the call, whose interceptors
            // check it again and map what failed as for any call (UNAVAILABLE, logged).
            await next(context);
            return;
        }

        // No lease (grpc-dotnet refuses the message from its header, or the stream ended under the read): nothing to give back.
        using (lease)
        {
            context.Features.Set(lease);
            await next(context);
        }
    }

    // Each message of the call, as it comes (HeldMessageReader), in place of the request body grpc-dotnet reads them from.
    private async Task HoldEach(HttpContext context, RequestDelegate next)
    {
        using var messages = new HeldMessageReader(context, this);
        context.Features.Set<IRequestBodyPipeFeature>(messages);
        await next(context);
    }

    /// <summary>The bytes of the message the request's body starts with, reserved; null when grpc-dotnet refuses it
    /// from its header alone.</summary>
    private async Task<RequestBodyBudget.Lease?> Reserve(HttpRequest request)
    {
        var body = request.BodyReader;

        // A gRPC client sends the message right behind the call's headers: most calls find its header here, with no wait.
        var buffered = body.TryRead(out var read);
        if (!buffered || (read.Buffer.Length < FrameHeader && !read.IsCompleted))
        {
            if (buffered)
            {
                body.AdvanceTo(read.Buffer.Start);
            }

            if (await WaitForHeader(request) is not { } waited)
            {
                return null;
            }

            read = waited;
        }

        try
        {
            return Reserve(read.Buffer, AuthInterceptor.BudgetShareOf(request.HttpContext));
        }
        finally
        {
            // Nothing consumed or examined: grpc-dotnet's first read returns these bytes again at once.
            body.AdvanceTo(read.Buffer.Start);
        }
    }

    /// <summary>The bytes of the message <paramref name="buffer"/> starts with, reserved (as <paramref name="tenant"/>'s,
    /// if the call is a tenant's); null when it holds less than a frame header, or grpc-dotnet refuses the message from
    /// its header alone.</summary>
    /// <exception cref="RpcException">RESOURCE_EXHAUSTED: the message does not fit the budget.</exception>
    internal RequestBodyBudget.Lease? Reserve(ReadOnlySequence<byte> buffer, string? tenant)
    {
        var (compressed, length) = Header(buffer);

        // A body that ends before a whole header, or a message over the receive limit, grpc-dotnet refuses at its header
        // without buffering anything.
        return length is { } declared && declared <= _largest ? budget.Reserve(compressed ? null : declared, tenant) : null;
    }

    /// <summary>The request's first bytes, at least a frame header unless the body ends first, awaited within the call's
    /// deadline: grpc-dotnet starts its deadline only once the call gets past this middleware, so a client that sent its
    /// headers and nothing more would wait here until Kestrel's minimum request body data rate closed its connection.
    /// Null when the stream ended under the read.</summary>
    /// <exception cref="RpcException">DEADLINE_EXCEEDED, as grpc-dotnet answers a call past its deadline.</exception>
    private static async Task<ReadResult?> WaitForHeader(HttpRequest request)
    {
        var limited = GrpcTimeout.TryParse(request.Headers[GrpcTimeout.Header], out var timeout) && timeout <= LongestDeadline;
        var started = Stopwatch.GetTimestamp();
        using var deadline = new CancellationTokenSource(limited ? timeout : Timeout.InfiniteTimeSpan);
        try
        {
            var read = await request.BodyReader.ReadAtLeastAsync(FrameHeader, deadline.Token);
            if (limited)
            {
                // What is left of it: grpc-dotnet starts the call's deadline afresh from this header.
                request.Headers[GrpcTimeout.Header] = GrpcTimeout.Format(timeout - Stopwatch.GetElapsedTime(started));
            }

            return read;
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded"));
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            // The stream ended under the read (its client reset it, or Kestrel ended a body sent too slowly): grpc-dotnet's
            // own read meets the same failure and ends the call as it always has.
            return null;
        }
    }

    private static (bool Compressed, long? Length) Header(ReadOnlySequence<byte> buffer)
    {
        if (buffer.Length < FrameHeader)
        {
            return (false, null);
        }

        Span<byte> header = stackalloc byte[FrameHeader];
        buffer.Slice(0, FrameHeader).CopyTo(header);
        return (header[0] != 0, BinaryPrimitives.ReadUInt32BigEndian(header[1..]));
    }

    /// <summary>Answers the call with <paramref name="refusal"/> alone, in the response's headers (a "trailers-only"
    /// response, as grpc-dotnet sends a status with no message before it), with its trailers (the status details, a
    /// retry hint).</summary>
    private static void Refuse(HttpResponse response, RpcException refusal)
    {
        response.ContentType = "application/grpc";
        foreach (var entry in refusal.Trailers)
        {
            response.Headers.Append(entry.Key, entry.IsBinary ? Convert.ToBase64String(entry.ValueBytes) : entry.Value);
        }

        response.Headers["grpc-status"] = ((int)refusal.StatusCode).ToString(CultureInfo.InvariantCulture);
        response.Headers["grpc-message"] = PercentEncoded(refusal.Status.Detail);
    }

    // gRPC's status message travels as UTF-8 with every byte outside printable ASCII, and '%' itself, percent-encoded.
    private static string PercentEncoded(string detail)
    {
        var encoded = new StringBuilder(detail.Length);
        foreach (var b in Encoding.UTF8.GetBytes(detail))
        {
            if (b is >= 0x20 and <= 0x7E and not (byte)'%')
            {
                encoded.Append((char)b);
            }
            else
            {
                encoded.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return encoded.ToString();
    }
}
