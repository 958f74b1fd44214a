using System.CommandLine;
using Google.Protobuf.WellKnownTypes;
using Scheduler.Protos.V1;

namespace Scheduler.Cli;

/// <summary><c>schedctl audit</c>: the admin actions on record, newest first.</summary>
internal static class AuditCommands
{
    public static readonly Listing<AuditEvent> Events = new(
        new("TIME", e => Format.Time(e.At)),
        new("ACTOR", e => e.Actor),
        new("ACTION", e => e.Action),
        new("TARGET", e => Format.OrDash(e.Target)),
        new("OUTCOME", e => e.Outcome),
        new("PEER", e => e.Peer, WideOnly: true),
        new("DETAIL", e => Format.OrDash(e.Detail), WideOnly: true));

    public static void AddTo(RootCommand root)
    {
        var since = TimeOption.Create("--since", "Only events since then").Fills("since");
        var action = new Option<string>("--action") { Description = "Only this action (tenant.put, apikey.create, apikey.revoke, accelerator.cordon, accelerator.uncordon, node.forget), or a prefix ending in '.' (apikey.)" }.Fills("action");
        var limit = new Option<int>("--limit") { Description = "At most this many events (default 100, at most 2000: the whole log)" }.Fills("limit");
        root.Add(ListingCommands.Listed("audit", "List admin actions (who, what, when, from where), newest first", Events,
            (admin, parse, cancellationToken) =>
            {
                var request = new ListAuditEventsRequest { Action = parse.GetValue(action) ?? "", Limit = parse.GetValue(limit) };
                if (parse.GetValue(since) is { } from)
                {
                    request.Since = Timestamp.FromDateTimeOffset(from);
                }

                return admin.ListAuditEventsAsync(request, cancellationToken: cancellationToken);
            },
            since, action, limit));
    }
}
