using Grpc.Core;

namespace Scheduler.Worker.Services.InProcess;

/// <summary>The server side's view of an in-process call: no deadline, no headers, no transport security, and a peer
/// that says where the call came from in the node's logs.</summary>
internal sealed class InProcessServerCallContext(string method, CancellationToken cancellationToken) : ServerCallContext
{
    // What the node's logs show in place of the peer's address.
    private const string Caller = "in-process";

    private static readonly AuthContext Unauthenticated = new(null, []);

    protected override string MethodCore => method;

    protected override string HostCore => Caller;

    protected override string PeerCore => Caller;

    protected override DateTime DeadlineCore => DateTime.MaxValue;

    protected override Metadata RequestHeadersCore { get; } = [];

    protected override CancellationToken CancellationTokenCore => cancellationToken;

    protected override Metadata ResponseTrailersCore { get; } = [];

    protected override Status StatusCore { get; set; }

    protected override WriteOptions? WriteOptionsCore { get; set; }

    protected override AuthContext AuthContextCore => Unauthenticated;

    protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) =>
        throw new NotSupportedException("An in-process call does not propagate its context.");

    protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => Task.CompletedTask;
}
