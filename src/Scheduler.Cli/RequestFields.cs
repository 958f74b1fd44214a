using System.CommandLine;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Google.Rpc;
using Grpc.Core;

namespace Scheduler.Cli;

/// <summary>
/// Which request field each flag (or argument) fills, so that the scheduler's INVALID_ARGUMENT, which names the field
/// (<c>from_token: must not be negative</c>, in its message and its <c>BadRequest</c>), reaches the user naming the flag
/// they typed (<c>--from-token: must not be negative</c>; an argument as its usage shows it, <c>&lt;job-id&gt;: is
/// required</c>). Each option and argument says what it fills where it is made; the rewrite is here, once, for every
/// command (<see cref="Actions"/>).
/// </summary>
internal static class RequestFields
{
    private static readonly ConditionalWeakTable<Symbol, string> Fields = [];

    /// <summary>Records that <paramref name="symbol"/>, an option or argument, fills the request field
    /// <paramref name="field"/> (its path, as the scheduler names it: <c>quotas.max_queued_jobs</c>).</summary>
    public static TSymbol Fills<TSymbol>(this TSymbol symbol, string field) where TSymbol : Symbol
    {
        Fields.AddOrUpdate(symbol, field);
        return symbol;
    }

    /// <summary>The request field <paramref name="option"/> fills; it must have said (<see cref="Fills"/>).</summary>
    public static string Of(Option option) =>
        Fields.TryGetValue(option, out var field) ? field : throw new InvalidOperationException($"{option.Name} names no request field");

    /// <summary><paramref name="detail"/>, the detail of <paramref name="refusal"/>, with the field it names told as the
    /// flag or argument of <paramref name="command"/> that filled it: "<c>--flag: problem</c>", or "<c>--flag:
    /// messages[2].role: problem</c>" for a part of what the flag filled; other fields the problem names become their
    /// flags too (<c>--since: must not be after --until</c>). Null when the refusal names no field the command filled.</summary>
    public static string? Named(RpcException refusal, string detail, Command command)
    {
        // INVALID_ARGUMENT names its field in a BadRequest; other refusals that are about a field start their detail with
        // it ("api_key: is another tenant's key" is ALREADY_EXISTS, "tenant_id: a tenant lists only its own jobs" is
        // PERMISSION_DENIED), and reached the user naming the request's field.
        var named = refusal.GetRpcStatus()?.GetDetail<BadRequest>() is { FieldViolations: [var violation, ..] }
            ? violation.Field
            : LeadingField(detail);
        if (named is null)
        {
            return null;
        }

        var flags = command.Options.Cast<Symbol>().Concat(command.Arguments)
            .Select(s => (Name: s is Argument ? $"<{s.Name}>" : s.Name, Field: Fields.TryGetValue(s, out var f) ? f : null))
            .Where(f => f.Field is not null)
            .ToList();
        var (flag, field) = flags.FirstOrDefault(f => IsOrContains(f.Field!, named));
        if (field is null)
        {
            return null;
        }

        // The scheduler's detail is "field: problem" (RichErrors.InvalidArgument), perhaps with more after it.
        var problem = detail.StartsWith($"{named}: ", StringComparison.Ordinal) ? detail[(named.Length + 2)..] : detail;
        foreach (var (other, otherField) in flags)
        {
            // Only a field with '_' or '.' is replaced inside the sentence: a one-word field ("model") is also an
            // English word there ("is not a model this scheduler serves").
            if (otherField!.IndexOfAny(['_', '.']) >= 0)
            {
                problem = Regex.Replace(problem, $@"(?<![\w.]){Regex.Escape(otherField)}(?!\w)", other);
            }
        }

        return named == field ? $"{flag}: {problem}" : $"{flag}: {named}: {problem}";
    }

    // "field: problem" → field, when the text before the colon can be a field path (quotas.max_queued_jobs, messages[1].role).
    private static string? LeadingField(string detail)
    {
        var colon = detail.IndexOf(": ", StringComparison.Ordinal);
        return colon > 0 && detail[..colon].All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '_' or '.' or '[' or ']')
            ? detail[..colon]
            : null;
    }

    // messages[2].role is part of what --message filled (messages); quotas.tokens_per_minute is not part of quotas.x.
    private static bool IsOrContains(string field, string named) =>
        named == field || (named.StartsWith(field, StringComparison.Ordinal) && named[field.Length] is '[' or '.');
}
