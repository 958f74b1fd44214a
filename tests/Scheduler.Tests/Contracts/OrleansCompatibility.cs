namespace Scheduler.Tests.Contracts;

/// <summary>
/// Whether code can run beside the version a recorded <see cref="OrleansContract"/> describes, by Orleans' versioning
/// rules ("Serialization in Orleans", Versioning rules): a member keeps its id and its type, except that a number may
/// widen without changing its signedness (old silos then narrow it back when they read it, which throws for a value
/// that does not fit); an id is never given to another member, while renaming a member under the same id and type is
/// safe; a type keeps its alias, its kind (record or class) and its base; an enum keeps its values' numbers; a grain
/// method keeps its id (a hash of its signature); a grain keeps its persistent states. Removals pass only when
/// <see cref="Retirements"/> lists them, with why the other version can do without.
/// </summary>
internal static class OrleansCompatibility
{
    /// <summary>What may be gone from the recorded contract. A retired member id is retired for good: a new member
    /// under it would be read from data in which it meant something else.</summary>
    public sealed record Retirements(
        IReadOnlySet<string> Types,
        IReadOnlySet<(string Type, int Id)> Members,
        IReadOnlySet<string> Enums,
        IReadOnlySet<(string Enum, long Number)> EnumValues,
        IReadOnlySet<(string Interface, string Method)> Methods,
        IReadOnlySet<(string Grain, string State)> States)
    {
        public static Retirements None { get; } = new(
            new HashSet<string>(), new HashSet<(string, int)>(), new HashSet<string>(), new HashSet<(string, long)>(),
            new HashSet<(string, string)>(), new HashSet<(string, string)>());
    }

    // Widening Orleans reads across ("Numerics": width may change, signedness may not).
    private static readonly string[][] WideningLadders =
    [
        ["System.SByte", "System.Int16", "System.Int32", "System.Int64"],
        ["System.Byte", "System.UInt16", "System.UInt32", "System.UInt64"],
        ["System.Single", "System.Double"],
    ];

    public static bool IsCompatible(string recorded, string current)
    {
        if (recorded == current)
        {
            return true;
        }

        if (recorded.EndsWith('?') != current.EndsWith('?'))
        {
            return false;
        }

        var (from, to) = (recorded.TrimEnd('?'), current.TrimEnd('?'));
        return WideningLadders.Any(l => Array.IndexOf(l, from) is >= 0 and var i && Array.IndexOf(l, to) > i);
    }

    public static IReadOnlyList<string> Check(OrleansContract recorded, OrleansContract current, Retirements retired)
    {
        var violations = new List<string>();
        CheckTypes(recorded, current, retired, violations);
        CheckEnums(recorded, current, retired, violations);
        CheckMethods(recorded, current, retired, violations);
        CheckStates(recorded, current, retired, violations);
        return violations;
    }

    private static void CheckTypes(OrleansContract recorded, OrleansContract current, Retirements retired, List<string> violations)
    {
        var now = current.Types.ToDictionary(t => t.Alias, StringComparer.Ordinal);
        foreach (var was in recorded.Types)
        {
            if (!now.TryGetValue(was.Alias, out var type))
            {
                if (current.Types.FirstOrDefault(t => t.ClrName == was.ClrName) is { } renamed)
                {
                    violations.Add($"type {was.ClrName}: its alias changed from \"{was.Alias}\" to \"{renamed.Alias}\". The alias is " +
                        "its name on the wire and in stored data, so the other version cannot resolve what this one sends or stores. " +
                        "Keep the old alias.");
                }
                else if (!retired.Types.Contains(was.Alias))
                {
                    violations.Add($"type {was.Alias} ({was.ClrName}) is gone. Silos of the other version still send it, and Redis may " +
                        "still hold it (grain state, the job journal). Keep it, or list it in RetiredTypes with why no stored or " +
                        "sent copy can remain.");
                }

                continue;
            }

            if (type.Kind != was.Kind)
            {
                violations.Add($"type {was.Alias} changed from a {was.Kind} to a {type.Kind}: Orleans encodes the two differently, " +
                    "so neither version reads what the other wrote.");
            }

            if (type.Base != was.Base)
            {
                violations.Add($"type {was.Alias} changed its base type from {was.Base ?? "none"} to {type.Base ?? "none"}: Orleans " +
                    "serializes each level of a hierarchy separately, so the levels no longer line up with what the other version wrote.");
            }

            CheckFields(was, type, retired, violations);
        }

        foreach (var reused in current.Types.Where(t => retired.Types.Contains(t.Alias)))
        {
            violations.Add($"type {reused.ClrName} uses the alias \"{reused.Alias}\", which is retired: stored data of the " +
                "retired type would be read as this one. Give it a new alias.");
        }
    }

    private static void CheckFields(OrleansContract.SerializedType was, OrleansContract.SerializedType type, Retirements retired, List<string> violations)
    {
        var byId = type.Fields.ToDictionary(f => f.Id);
        foreach (var field in was.Fields)
        {
            var sameName = type.Fields.FirstOrDefault(f => f.Name == field.Name);
            if (sameName is not null && sameName.Id != field.Id)
            {
                violations.Add($"{was.Alias}.{field.Name} was renumbered from [Id({field.Id})] to [Id({sameName.Id})]: a silo of the " +
                    $"other version, and every stored copy, carry it under id {field.Id}, which this version reads as " +
                    $"{(byId.TryGetValue(field.Id, out var other) ? other.Name : "nothing")}. Put the id back.");
                continue;
            }

            if (!byId.TryGetValue(field.Id, out var now))
            {
                if (!retired.Members.Contains((was.Alias, field.Id)))
                {
                    violations.Add($"{was.Alias}.{field.Name} ([Id({field.Id})], {field.Type}) is gone: the other version still " +
                        "writes and expects it. Keep it, or list (type, id) in RetiredMembers with why the other version can do " +
                        "without it (it then reads the default).");
                }

                continue;
            }

            if (!IsCompatible(field.Type, now.Type))
            {
                violations.Add(now.Name == field.Name
                    ? $"{was.Alias}.{field.Name} ([Id({field.Id})]) changed type from {field.Type} to {now.Type}: Orleans cannot " +
                      "read one as the other (only a number may widen, keeping its sign), so stored and sent values fail to " +
                      "deserialize. Add a new member with a new id instead."
                    : $"{was.Alias} [Id({field.Id})] was {field.Name} ({field.Type}) and is now {now.Name} ({now.Type}): an id " +
                      "is never reused, since the other version and stored data still mean the old member by it. Give the new " +
                      "member an unused id.");
            }
        }

        foreach (var reused in type.Fields.Where(f => retired.Members.Contains((was.Alias, f.Id))))
        {
            violations.Add($"{was.Alias}.{reused.Name} uses [Id({reused.Id})], which is retired: data written when it meant " +
                "another member would be read into it. Give it an unused id.");
        }
    }

    private static void CheckEnums(OrleansContract recorded, OrleansContract current, Retirements retired, List<string> violations)
    {
        var now = current.Enums.ToDictionary(e => e.Name, StringComparer.Ordinal);
        foreach (var was in recorded.Enums)
        {
            if (!now.TryGetValue(was.Name, out var e))
            {
                if (!retired.Enums.Contains(was.Name))
                {
                    violations.Add($"enum {was.Name} is gone (or renamed) from what serialized members and grain methods carry: the " +
                        "other version still sends and stores its values. Keep it, or list it in RetiredEnums.");
                }

                continue;
            }

            if (e.Underlying != was.Underlying)
            {
                violations.Add($"enum {was.Name} changed its underlying type from {was.Underlying} to {e.Underlying}.");
            }

            foreach (var value in was.Values)
            {
                var sameName = e.Values.FirstOrDefault(v => v.Name == value.Name);
                if (sameName is not null && sameName.Number != value.Number)
                {
                    violations.Add($"{was.Name}.{value.Name} changed its number from {value.Number} to {sameName.Number}: Orleans " +
                        "sends and stores an enum as its number (so does the job index in Redis), so the other version reads " +
                        $"{value.Number} as something else. Keep the number; add new values with new numbers.");
                }
                else if (sameName is null && !e.Values.Any(v => v.Number == value.Number) && !retired.EnumValues.Contains((was.Name, value.Number)))
                {
                    violations.Add($"{was.Name}.{value.Name} ({value.Number}) is gone, but the other version still sends it and stored " +
                        "data may hold it. Keep it, or list (enum, number) in RetiredEnumValues.");
                }
            }

            foreach (var reused in e.Values.Where(v => retired.EnumValues.Contains((was.Name, v.Number))))
            {
                violations.Add($"{was.Name}.{reused.Name} uses {reused.Number}, which is retired: stored data holding the retired " +
                    "value would be read as this one. Give it an unused number.");
            }
        }
    }

    private static void CheckMethods(OrleansContract recorded, OrleansContract current, Retirements retired, List<string> violations)
    {
        foreach (var was in recorded.Methods)
        {
            var now = current.Methods.FirstOrDefault(m => m.Interface == was.Interface && m.Id == was.Id);
            if (now is not null)
            {
                if (now.Parameters.Count != was.Parameters.Count ||
                    now.Parameters.Zip(was.Parameters).Any(p => !IsCompatible(p.Second, p.First)) || !IsCompatible(was.Returns, now.Returns))
                {
                    violations.Add($"grain method {was.Interface}.{was.Name} (id {was.Id}) changed its signature from " +
                        $"({string.Join(", ", was.Parameters)}) -> {was.Returns} to ({string.Join(", ", now.Parameters)}) -> {now.Returns}.");
                }

                continue;
            }

            if (retired.Methods.Contains((was.Interface, was.Name)))
            {
                continue;
            }

            var moved = current.Methods.FirstOrDefault(m => m.Id == was.Id && m.Name == was.Name);
            var changed = current.Methods.FirstOrDefault(m => m.Interface == was.Interface && m.Name == was.Name);
            violations.Add($"grain method {was.Interface}.{was.Name}({string.Join(", ", was.Parameters)}) (id {was.Id}) " +
                (moved is not null
                    ? $"moved to interface {moved.Interface}: a silo of the other version calls it by its old interface's name. " +
                      "Keep the interface's name and namespace, or give it an [Alias] of its old full name."
                    : changed is not null
                        ? $"changed its signature to ({string.Join(", ", changed.Parameters)}) -> {changed.Returns}, so its id changed " +
                          $"to {changed.Id}: calls from a silo of the other version find no method. Keep the old method beside the new one."
                        : "is gone: calls from a silo of the other version find no method. Keep it until no older version runs, or " +
                          "list it in RetiredMethods."));
        }
    }

    private static void CheckStates(OrleansContract recorded, OrleansContract current, Retirements retired, List<string> violations)
    {
        foreach (var was in recorded.States)
        {
            var now = current.States.FirstOrDefault(s => s.Grain == was.Grain && s.Name == was.Name);
            if (now is null && !retired.States.Contains((was.Grain, was.Name)))
            {
                violations.Add($"grain {was.Grain} no longer has its persistent state \"{was.Name}\" ({was.Type}): Redis keys state by " +
                    "the grain's type (its class name) and the state's name, so a renamed grain class or state abandons what is " +
                    "stored. Keep both names, or list (grain, state) in RetiredStates.");
            }
            else if (now is not null && now.Type != was.Type)
            {
                violations.Add($"grain {was.Grain}'s state \"{was.Name}\" changed type from {was.Type} to {now.Type}: the stored state " +
                    "no longer deserializes. Evolve the state type instead (new members with new ids).");
            }
        }
    }
}
