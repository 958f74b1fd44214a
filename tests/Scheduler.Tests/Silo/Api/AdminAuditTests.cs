using System.Reflection;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Scheduler.Abstractions.Audit;
using Scheduler.Silo.Api;

namespace Scheduler.Tests.Silo.Api;

public sealed class AdminAuditTests
{
    private readonly RecordingAuditLog _log = new();
    private readonly FakeCallContext _context = new();
    private readonly AdminAudit _audit;

    public AdminAuditTests()
    {
        _context.UserState[AuthInterceptor.AdminKey] = "admin-fingerprint";
        var grains = DispatchProxy.Create<IGrainFactory, AuditLogFactory>();
        ((AuditLogFactory)(object)grains).Log = _log;
        _audit = new AdminAudit(grains, TimeProvider.System, new ErrorInterceptor(NullLogger<ErrorInterceptor>.Instance));
    }

    [Fact]
    public async Task Run_ActionFailsWithASiloLostUnderIt_IsRecordedAsTheUnavailableTheCallerGets()
    {
        // Only refusals (RpcException) were recorded: a put whose silo died under it — which may have written the tenant —
        // left no trace in the log (an outside probe: SIGKILL during 3,000 tenant puts).
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            _audit.Run<int>(_context, "tenant.put", "acme", "weight=2", () => throw new SiloUnavailableException("silo S127.0.0.1:11111 is dead")));

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        var recorded = Assert.Single(_log.Events);
        Assert.Equal(("tenant.put", "acme", "Unavailable", "admin-fingerprint", "weight=2"), (recorded.Action, recorded.Target, recorded.Outcome, recorded.Actor, recorded.Detail));
    }

    [Fact]
    public async Task Run_ActionFailsUnexpectedly_IsRecordedAsInternal_WithoutItsDetails()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            _audit.Run<int>(_context, "apikey.create", "acme", "", () => throw new InvalidOperationException("secret detail")));

        Assert.Equal(StatusCode.Internal, error.StatusCode);
        Assert.Equal("Internal", Assert.Single(_log.Events).Outcome);
        Assert.DoesNotContain("secret", Assert.Single(_log.Events).ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_RefusedAndDone_AreRecordedWithTheirOutcome()
    {
        await Assert.ThrowsAsync<RpcException>(() =>
            _audit.Run<int>(_context, "accelerator.cordon", "gone", "", () => throw new RpcException(new Status(StatusCode.NotFound, "no such accelerator"))));
        Assert.Equal(7, await _audit.Run(_context, "tenant.put", "acme", "", () => Task.FromResult(7)));

        Assert.Equal(["NotFound", "ok"], _log.Events.Select(e => e.Outcome));
    }

    private sealed class RecordingAuditLog : IAuditLogGrain
    {
        public List<AuditEvent> Events { get; } = [];

        public Task Append(AuditEvent auditEvent)
        {
            Events.Add(auditEvent);
            return Task.CompletedTask;
        }

        public Task<AuditEvent[]> List(DateTimeOffset? since, string? action, int limit) => Task.FromResult(Events.ToArray());
    }

    /// <summary>A grain factory that has only the audit log.</summary>
    public class AuditLogFactory : DispatchProxy
    {
        internal IAuditLogGrain? Log { get; set; }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
            targetMethod?.Name == nameof(IGrainFactory.GetGrain) && targetMethod.ReturnType == typeof(IAuditLogGrain)
                ? Log
                : throw new NotSupportedException(targetMethod?.Name);
    }
}
