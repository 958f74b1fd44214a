using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Scheduler.Abstractions.Audit;
using Proto = Scheduler.Protos.V1;

namespace Scheduler.Silo.Api;

/// <summary>Runs an admin action and records it in the audit log — who (the admin key's fingerprint), from where, what,
/// to what, and how it ended, refusals and failures included. The event is written after the action and before the
/// answer: an action the admin saw succeed is on record.</summary>
internal sealed class AdminAudit(IGrainFactory grains, TimeProvider time, ErrorInterceptor errors)
{
    /// <summary>Most events one listing returns: the whole log, since a listing has no page token to reach further
    /// back (it was 1,000, which left the older half of the log unreadable).</summary>
    public const int MaxListed = IAuditLogGrain.Capacity;

    private const int DefaultListed = 100;

    private IAuditLogGrain Log => grains.GetGrain<IAuditLogGrain>(IAuditLogGrain.Key);

    public async Task<T> Run<T>(ServerCallContext context, string action, string target, string detail, Func<Task<T>> act)
    {
        T result;
        try
        {
            result = await act();
        }
        catch (RpcException e)
        {
            await Append(context, action, target, e.StatusCode.ToString(), detail);
            throw;
        }
        catch (Exception e)
        {
            // A failure, not a refusal — a silo lost under the call, Redis not answering, a timeout — may still have
            // changed something (a tenant written but not yet listed), so it is on record too, as the status the
            // caller gets (UNAVAILABLE, INTERNAL), which the interceptor would otherwise have made of it.
            var status = errors.Map(e, context);
            await Append(context, action, target, status.StatusCode.ToString(), detail);
            throw status;
        }

        await Append(context, action, target, "ok", detail);
        return result;
    }

    public async Task<Proto.ListAuditEventsResponse> List(Proto.ListAuditEventsRequest request)
    {
        if (request.Limit is < 0 or > MaxListed)
        {
            throw SchedulerErrors.InvalidArgument("limit", $"must be between 0 and {MaxListed}");
        }

        AuditActions.RequireFilter(request.Action);
        var events = await Log.List(Timestamps.Read(request.Since, "since"), request.Action, request.Limit > 0 ? request.Limit : DefaultListed);
        var response = new Proto.ListAuditEventsResponse();
        response.Events.AddRange(events.Select(e => new Proto.AuditEvent
        {
            At = Timestamp.FromDateTimeOffset(e.At),
            Actor = e.Actor,
            Peer = e.Peer,
            Action = e.Action,
            Target = e.Target,
            Outcome = e.Outcome,
            Detail = e.Detail,
        }));
        return response;
    }

    private Task Append(ServerCallContext context, string action, string target, string outcome, string detail) =>
        Log.Append(new AuditEvent(time.GetUtcNow(), AuthInterceptor.AdminOf(context), context.Peer, action,
            SchedulerErrors.Echo(target), outcome, detail));
}
