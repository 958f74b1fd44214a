using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
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
        var since = new Option<DateTimeOffset?>("--since")
        {
            Description = "Only events since then: a duration back from now (90s, 10m, 2h, 7d) or an ISO 8601 time",
            CustomParser = ParseSince,
        };
        var action = new Option<string>("--action") { Description = "Only this action (tenant.put), or a prefix ending in '.' (apikey.)" };
        var limit = new Option<int>("--limit") { Description = "At most this many events (default 100, at most 1000)" };
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

    private static DateTimeOffset? ParseSince(ArgumentResult result)
    {
        var text = result.Tokens.Single().Value;
        if (Duration(text) is { } ago)
        {
            return DateTimeOffset.UtcNow - ago;
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
        {
            return at;
        }

        result.AddError($"--since '{text}': expected a duration such as 10m or 2h, or an ISO 8601 time");
        return null;
    }

    private static TimeSpan? Duration(string text)
    {
        if (text.Length < 2 || !double.TryParse(text[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var n) || n < 0)
        {
            return null;
        }

        return text[^1] switch
        {
            's' => TimeSpan.FromSeconds(n),
            'm' => TimeSpan.FromMinutes(n),
            'h' => TimeSpan.FromHours(n),
            'd' => TimeSpan.FromDays(n),
            _ => null,
        };
    }
}
