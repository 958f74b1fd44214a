using System.Globalization;

namespace Scheduler.Tests.Contracts;

/// <summary>
/// Whether the protos can serve every client of a recorded <see cref="ProtoContract"/>, by buf's wire rules and the
/// names the JSON mapping and generated code rely on: a field number keeps its name, type, cardinality and oneof; a
/// removed field's number and name are reserved; reservations stay; an enum value's number keeps its name; a method
/// keeps its request and response types and streaming. A message, enum or method may be gone only when
/// <see cref="Retirements"/> lists it.
/// </summary>
internal static class ProtoCompatibility
{
    /// <summary>Full names of messages and enums, and methods as <c>package.Service/Method</c>, that may be gone.</summary>
    public sealed record Retirements(IReadOnlySet<string> Messages, IReadOnlySet<string> Enums, IReadOnlySet<string> Methods)
    {
        public static Retirements None { get; } = new(new HashSet<string>(), new HashSet<string>(), new HashSet<string>());
    }

    private sealed record Field(string Name, string Label, string Type, string? Oneof);

    private sealed class Parsed
    {
        public HashSet<string> Messages { get; } = new(StringComparer.Ordinal);
        public HashSet<string> Enums { get; } = new(StringComparer.Ordinal);
        public Dictionary<(string Scope, long Number), Field> Fields { get; } = [];
        public Dictionary<(string Scope, long Number), string> Values { get; } = [];
        public List<(string Scope, long From, long To)> Reserved { get; } = [];
        public HashSet<(string Scope, string Name)> ReservedNames { get; } = [];
        public Dictionary<string, (string Request, string Response)> Methods { get; } = new(StringComparer.Ordinal);

        public bool IsReserved(string scope, long number) => Reserved.Any(r => r.Scope == scope && r.From <= number && number <= r.To);

        public static Parsed From(IEnumerable<string> lines)
        {
            var p = new Parsed();
            foreach (var line in lines)
            {
                var w = line.Split(' ');
                switch (w[0])
                {
                    case "message":
                        p.Messages.Add(w[1]);
                        break;
                    case "enum":
                        p.Enums.Add(w[1]);
                        break;
                    case "field":
                        p.Fields[(w[1], Number(w[2]))] = new Field(w[3], w[4], w[5], w.Length > 6 ? w[6]["oneof:".Length..] : null);
                        break;
                    case "value":
                        p.Values[(w[1], Number(w[2]))] = w[3];
                        break;
                    case "reserved":
                        var dash = w[2].IndexOf('-', 1);
                        p.Reserved.Add((w[1], Number(w[2][..dash]), Number(w[2][(dash + 1)..])));
                        break;
                    case "reserved-name":
                        p.ReservedNames.Add((w[1], w[2]));
                        break;
                    case "rpc":
                        p.Methods[w[1]] = (w[2], w[4]);
                        break;
                    default:
                        throw new FormatException("not a line of a proto contract: " + line);
                }
            }

            return p;
        }

        private static long Number(string s) => long.Parse(s, CultureInfo.InvariantCulture);
    }

    public static IReadOnlyList<string> Check(IEnumerable<string> recordedLines, IEnumerable<string> currentLines, Retirements retired)
    {
        var (was, now) = (Parsed.From(recordedLines), Parsed.From(currentLines));
        var violations = new List<string>();

        foreach (var message in was.Messages.Where(m => !now.Messages.Contains(m) && !retired.Messages.Contains(m)))
        {
            violations.Add($"message {message} is gone: clients built from the released protos still send or expect it. Keep it, " +
                "or list it in RetiredMessages with why no client can still use it.");
        }

        foreach (var e in was.Enums.Where(e => !now.Enums.Contains(e) && !retired.Enums.Contains(e)))
        {
            violations.Add($"enum {e} is gone: clients built from the released protos still use it. Keep it, or list it in RetiredEnums.");
        }

        foreach (var ((scope, number), field) in was.Fields.Where(f => now.Messages.Contains(f.Key.Scope)))
        {
            CheckField(scope, number, field, now, violations);
        }

        foreach (var ((scope, number), name) in was.Values.Where(v => now.Enums.Contains(v.Key.Scope)))
        {
            if (now.Values.TryGetValue((scope, number), out var current))
            {
                if (current != name)
                {
                    violations.Add($"{scope} value {number} was {name} and is now {current}: clients and stored messages mean " +
                        $"{name} by {number} (and the JSON mapping sends the name). Keep the name; add a new value with a new number.");
                }
            }
            else if (!now.IsReserved(scope, number) || !now.ReservedNames.Contains((scope, name)))
            {
                violations.Add($"{scope} value {name} = {number} was removed without `reserved {number};` and `reserved \"{name}\";`: " +
                    "a later value could take the number or the name, and old clients would read it as the removed one.");
            }
        }

        foreach (var (scope, from, to) in was.Reserved.Where(r => now.Messages.Contains(r.Scope) || now.Enums.Contains(r.Scope)))
        {
            if (!Covered(now, scope, from, to))
            {
                violations.Add($"{scope} no longer reserves {from}-{to}: those numbers belonged to removed fields or values, " +
                    "which old clients still send.");
            }
        }

        foreach (var (scope, name) in was.ReservedNames.Where(r => (now.Messages.Contains(r.Scope) || now.Enums.Contains(r.Scope)) && !now.ReservedNames.Contains(r)))
        {
            violations.Add($"{scope} no longer reserves the name \"{name}\", which a removed field or value had.");
        }

        foreach (var (method, (request, response)) in was.Methods)
        {
            if (!now.Methods.TryGetValue(method, out var current))
            {
                if (!retired.Methods.Contains(method))
                {
                    violations.Add($"rpc {method} is gone: old workers and released clients still call it (they would get " +
                        "UNIMPLEMENTED). Keep it, or list it in RetiredMethods with why no caller remains.");
                }
            }
            else if ((request, response) != current)
            {
                violations.Add($"rpc {method} changed from ({request}) -> {response} to ({current.Request}) -> {current.Response}: " +
                    "callers built from the released protos send and expect the old messages and streaming kind (\"stream:\" marks " +
                    "a stream). Add a new method instead.");
            }
        }

        return violations;
    }

    private static void CheckField(string scope, long number, Field field, Parsed now, List<string> violations)
    {
        var at = $"{scope} field {number} ({field.Name})";
        if (!now.Fields.TryGetValue((scope, number), out var current))
        {
            var missing = new[] { now.IsReserved(scope, number) ? null : $"`reserved {number};`", now.ReservedNames.Contains((scope, field.Name)) ? null : $"`reserved \"{field.Name}\";`" }
                .OfType<string>().ToList();
            if (missing.Count > 0)
            {
                violations.Add($"{at} was removed without {string.Join(" and ", missing)}: a later field could take the number (old " +
                    "clients would send the old value into it) or the name (JSON clients would).");
            }

            return;
        }

        if (current.Type != field.Type)
        {
            violations.Add($"{at} changed type from {field.Type} to {current.Type}: a field number keeps its type, or old clients' " +
                "values are misread or rejected. Reserve the number and add a new field.");
        }

        if (Repeats(current.Label) != Repeats(field.Label))
        {
            violations.Add($"{at} changed from {field.Label} to {current.Label}: a repeated field and a single one are not read " +
                "alike on the wire.");
        }

        if (current.Oneof != field.Oneof)
        {
            violations.Add($"{at} moved from oneof {field.Oneof ?? "(none)"} to {current.Oneof ?? "(none)"}: setting it now clears " +
                "(or no longer clears) its siblings, so old and new readers disagree on which is set.");
        }

        if (current.Name != field.Name)
        {
            violations.Add($"{at} was renamed to {current.Name}: the JSON mapping sends field names and clients' generated code " +
                "uses them. Keep the name.");
        }
    }

    private static bool Repeats(string label) => label is "repeated" or "map";

    private static bool Covered(Parsed now, string scope, long from, long to)
    {
        var next = from;
        foreach (var (_, f, t) in now.Reserved.Where(r => r.Scope == scope).OrderBy(r => r.From))
        {
            if (f <= next && t >= next)
            {
                next = t + 1;
            }
        }

        return next > to;
    }
}
