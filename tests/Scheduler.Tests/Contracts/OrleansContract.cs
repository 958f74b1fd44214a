using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using Orleans;
using Orleans.Runtime;

namespace Scheduler.Tests.Contracts;

/// <summary>
/// What silos of two versions exchange through Orleans' serializer and read back from Redis, all in Orleans' binary
/// format (grain state through <c>OrleansGrainStorageSerializer</c>; the job journal's tickets and settled records
/// through <c>Serializer&lt;T&gt;</c>, <c>RedisJobJournal</c>): every <c>[GenerateSerializer]</c> type with its alias and
/// <c>[Id]</c> members; the enums they carry (by number; the job index's Redis entries hold status and priority numbers
/// too); every grain method, by the id its generated invokable is sent under; and every persistent state a grain keeps.
/// Built by reflection over the scheduler's assemblies; one self-contained line per element, in a fixed order.
/// </summary>
internal sealed record OrleansContract(
    IReadOnlyList<OrleansContract.SerializedType> Types,
    IReadOnlyList<OrleansContract.EnumType> Enums,
    IReadOnlyList<OrleansContract.GrainMethod> Methods,
    IReadOnlyList<OrleansContract.StoredState> States)
{
    /// <summary>A <c>[GenerateSerializer]</c> type. <see cref="Alias"/> names it on the wire (its CLR name when it has
    /// none); <see cref="Kind"/>: record class, class, record struct or struct; <see cref="Base"/>: its serialized base
    /// type, or null.</summary>
    public sealed record SerializedType(string Alias, string Kind, string ClrName, string? Base, IReadOnlyList<Field> Fields);

    public sealed record Field(int Id, string Name, string Type);

    public sealed record EnumType(string Name, string Underlying, IReadOnlyList<EnumValue> Values);

    public sealed record EnumValue(long Number, string Name);

    /// <summary>A grain method as Orleans sends it: its interface and the id of its generated invokable (a hash of its
    /// signature unless the method has an <c>[Alias]</c>), and its signature for people.</summary>
    public sealed record GrainMethod(string Interface, string Id, string Name, IReadOnlyList<string> Parameters, string Returns);

    /// <summary>A grain's persistent state: Redis keys it by the grain's type (Orleans derives it from the class's name,
    /// whatever its namespace) and the state's name.</summary>
    public sealed record StoredState(string Grain, string Name, string Type);

    public IReadOnlyList<string> Lines() =>
    [
        .. Types.SelectMany(t => t.Fields.Select(f => Invariant($"field {t.Alias} {f.Id} {f.Name} {f.Type}"))
            .Prepend($"type {t.Alias} = {t.Kind.Replace(' ', '-')} {t.ClrName}" + (t.Base is null ? "" : $" : {t.Base}"))),
        .. Enums.SelectMany(e => e.Values.Select(v => Invariant($"value {e.Name} {v.Number} {v.Name}"))
            .Prepend($"enum {e.Name} : {e.Underlying}")),
        .. Methods.Select(m => $"grain {m.Interface} {m.Id} {m.Name}({string.Join(",", m.Parameters)}) -> {m.Returns}"),
        .. States.Select(s => $"state {s.Grain} {s.Name} {s.Type}"),
    ];

    /// <summary>Reads <see cref="Lines"/> back (a snapshot).</summary>
    public static OrleansContract Parse(IEnumerable<string> lines)
    {
        var types = new List<SerializedType>();
        var enums = new List<EnumType>();
        var methods = new List<GrainMethod>();
        var states = new List<StoredState>();
        foreach (var line in lines)
        {
            var w = line.Split(' ');
            switch (w[0])
            {
                case "type":
                    types.Add(new SerializedType(w[1], w[3].Replace('-', ' '), w[4], w.Length > 6 ? w[6] : null, []));
                    break;
                case "field":
                    var type = types.Single(t => t.Alias == w[1]);
                    types[types.IndexOf(type)] = type with { Fields = [.. type.Fields, new Field(int.Parse(w[2], CultureInfo.InvariantCulture), w[3], w[4])] };
                    break;
                case "enum":
                    enums.Add(new EnumType(w[1], w[3], []));
                    break;
                case "value":
                    var e = enums.Single(x => x.Name == w[1]);
                    enums[enums.IndexOf(e)] = e with { Values = [.. e.Values, new EnumValue(long.Parse(w[2], CultureInfo.InvariantCulture), w[3])] };
                    break;
                case "grain":
                    var open = w[3].IndexOf('(', StringComparison.Ordinal);
                    var args = w[3][(open + 1)..^1];
                    methods.Add(new GrainMethod(w[1], w[2], w[3][..open], args.Length == 0 ? [] : SplitTopLevel(args), w[5]));
                    break;
                case "state":
                    states.Add(new StoredState(w[1], w[2], w[3]));
                    break;
                default:
                    throw new FormatException("not a line of an Orleans contract: " + line);
            }
        }

        return new OrleansContract(types, enums, methods, states);
    }

    /// <summary>The contract of the scheduler's assemblies (every <c>Scheduler.*.dll</c> beside the tests).</summary>
    public static OrleansContract Build() => Build(SchedulerAssemblies());

    public static OrleansContract Build(IReadOnlyList<Assembly> assemblies)
    {
        var all = assemblies.SelectMany(LoadableTypes).ToList();
        var types = all.Where(t => t.IsDefined(typeof(GenerateSerializerAttribute), false))
            .Select(Describe).OrderBy(t => t.Alias, StringComparer.Ordinal).ToList();
        var methods = all.Select(InvokableMethod).OfType<GrainMethod>()
            .OrderBy(m => m.Interface, StringComparer.Ordinal).ThenBy(m => m.Name, StringComparer.Ordinal).ThenBy(m => m.Id, StringComparer.Ordinal).ToList();
        var states = all.Where(t => t.IsClass && typeof(Grain).IsAssignableFrom(t)).SelectMany(PersistentStates)
            .OrderBy(s => s.Grain, StringComparer.Ordinal).ThenBy(s => s.Name, StringComparer.Ordinal).ToList();

        // The enums a serialized member or a grain method carries, however deep (arrays, generics, nullables).
        var carried = all.Where(t => t.IsDefined(typeof(GenerateSerializerAttribute), false))
            .SelectMany(t => SerializedMembers(t).Select(m => MemberType(m)))
            .Concat(all.SelectMany(InvokableArgumentTypes))
            .SelectMany(Constituents).Where(t => t.IsEnum && IsScheduler(t.Assembly)).Distinct();
        var enums = carried.Select(DescribeEnum).OrderBy(e => e.Name, StringComparer.Ordinal).ToList();
        return new OrleansContract(types, enums, methods, states);
    }

    public static IReadOnlyList<Assembly> SchedulerAssemblies() =>
    [
        .. Directory.GetFiles(AppContext.BaseDirectory, "Scheduler.*.dll")
            .Select(Path.GetFileNameWithoutExtension).Where(n => n != typeof(OrleansContract).Assembly.GetName().Name)
            .Order(StringComparer.Ordinal).Select(n => Assembly.Load(n!)),
    ];

    /// <summary>The CLR-level faults Orleans would not catch until two versions meet: a serialized type without an
    /// <c>[Alias]</c> (its wire name is its namespace and class name, so a move or rename breaks it) and a record's
    /// positional member without an <c>[Id]</c> (Orleans numbers it by position, so reordering the parameters
    /// reassigns stored values).</summary>
    public static IReadOnlyList<string> Faults(IReadOnlyList<Assembly> assemblies)
    {
        var faults = new List<string>();
        foreach (var type in assemblies.SelectMany(LoadableTypes).Where(t => t.IsDefined(typeof(GenerateSerializerAttribute), false)))
        {
            if (type.GetCustomAttribute<AliasAttribute>() is null)
            {
                faults.Add($"{type.FullName} has [GenerateSerializer] but no [Alias]: its wire name is its CLR name, so renaming or " +
                    "moving it makes data the other version wrote unreadable. Add [Alias(\"scheduler.<Name>\")].");
            }

            faults.AddRange(PositionalMembersWithoutId(type).Select(name =>
                $"{type.FullName}.{name} is a positional record member without [property: Id(n)]: Orleans numbers it by its " +
                "position, so adding or reordering parameters reassigns stored and sent values. Give it an explicit id."));
        }

        return faults;
    }

    private static bool IsScheduler(Assembly a) => a.GetName().Name!.StartsWith("Scheduler.", StringComparison.Ordinal);

    private static IEnumerable<Type> LoadableTypes(Assembly a)
    {
        try
        {
            return a.GetTypes();
        }
        catch (ReflectionTypeLoadException e)
        {
            return e.Types.OfType<Type>();
        }
    }

    private const BindingFlags Declared = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;

    // Ids are scoped to one level of a hierarchy, so each level lists only its own members.
    private static IEnumerable<MemberInfo> SerializedMembers(Type t) =>
        t.GetProperties(Declared).Cast<MemberInfo>().Concat(t.GetFields(Declared)).Where(m => m.IsDefined(typeof(IdAttribute), false));

    private static Type MemberType(MemberInfo m) => m is PropertyInfo p ? p.PropertyType : ((FieldInfo)m).FieldType;

    private static SerializedType Describe(Type t)
    {
        var alias = t.GetCustomAttribute<AliasAttribute>()?.Alias;
        var fields = SerializedMembers(t)
            .Select(m => new Field((int)m.GetCustomAttribute<IdAttribute>()!.Id, m.Name, Render(MemberType(m))))
            .OrderBy(f => f.Id).ToList();
        var baseType = t.BaseType is { } b && b != typeof(object) && b != typeof(ValueType) ? Render(b) : null;
        return new SerializedType(alias ?? Render(t), KindOf(t), Render(t, useAlias: false), baseType, fields);
    }

    private static string KindOf(Type t) =>
        (t.IsValueType, IsRecord(t)) switch
        {
            (true, true) => "record struct",
            (true, false) => "struct",
            (false, true) => "record class",
            _ => "class",
        };

    // The compiler's marks of a record: a clone method (record class) or a generated PrintMembers (record struct).
    private static bool IsRecord(Type t) =>
        t.GetMethod("<Clone>$") is not null ||
        t.GetMethod("PrintMembers", BindingFlags.Instance | BindingFlags.NonPublic) is { } print && print.IsDefined(typeof(CompilerGeneratedAttribute), false);

    private static IEnumerable<string> PositionalMembersWithoutId(Type t)
    {
        if (!IsRecord(t))
        {
            return [];
        }

        // The primary constructor: the widest one whose every parameter is a property of the same name and type
        // (the copy constructor takes the record itself).
        var properties = t.GetProperties(Declared).ToDictionary(p => p.Name, StringComparer.Ordinal);
        var primary = t.GetConstructors(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
            .Where(c => c.GetParameters() is { Length: > 0 } ps && ps.All(p =>
                properties.TryGetValue(p.Name!, out var prop) && prop.PropertyType == p.ParameterType))
            .MaxBy(c => c.GetParameters().Length);
        return primary?.GetParameters().Select(p => properties[p.Name!]).Where(p => !p.IsDefined(typeof(IdAttribute), false)).Select(p => p.Name) ?? [];
    }

    private static EnumType DescribeEnum(Type t) =>
        new(Render(t), Render(Enum.GetUnderlyingType(t)),
            [.. t.GetFields(BindingFlags.Public | BindingFlags.Static)
                .Select(f => new EnumValue(Convert.ToInt64(f.GetRawConstantValue(), CultureInfo.InvariantCulture), f.Name))
                .OrderBy(v => v.Number).ThenBy(v => v.Name, StringComparer.Ordinal)]);

    // Orleans generates one invokable class per grain method, sent under [CompoundTypeAlias("inv", proxy base,
    // interface, method id)]; its argN fields are the arguments it serializes.
    private static GrainMethod? InvokableMethod(Type t)
    {
        if (t.GetCustomAttribute<CompoundTypeAliasAttribute>() is not { Components: ["inv", _, Type iface, string id] })
        {
            return null;
        }

        var method = InvokableMethodInfo(t);
        return new GrainMethod(Render(iface), id, method?.Name ?? t.Name, [.. InvokableArguments(t).Select(f => Render(f.FieldType))],
            method is null ? "?" : Render(method.ReturnType));
    }

    private static MethodInfo? InvokableMethodInfo(Type invokable) =>
        invokable.GetField("MethodBackingField", BindingFlags.NonPublic | BindingFlags.Static)?.GetValue(null) as MethodInfo;

    private static IEnumerable<FieldInfo> InvokableArguments(Type invokable) =>
        invokable.GetFields(BindingFlags.Instance | BindingFlags.Public)
            .Where(f => f.Name.StartsWith("arg", StringComparison.Ordinal) && int.TryParse(f.Name[3..], CultureInfo.InvariantCulture, out _))
            .OrderBy(f => int.Parse(f.Name[3..], CultureInfo.InvariantCulture));

    private static IEnumerable<Type> InvokableArgumentTypes(Type t) =>
        t.IsDefined(typeof(CompoundTypeAliasAttribute), false)
            ? InvokableArguments(t).Select(f => f.FieldType).Concat(InvokableMethodInfo(t) is { } m ? [m.ReturnType] : [])
            : [];

    private static IEnumerable<StoredState> PersistentStates(Type grain) =>
        grain.GetConstructors(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
            .SelectMany(c => c.GetParameters())
            .Where(p => p.GetCustomAttribute<PersistentStateAttribute>() is not null)
            .Select(p => new StoredState(grain.Name, p.GetCustomAttribute<PersistentStateAttribute>()!.StateName,
                Render(p.ParameterType.GetGenericArguments().Single())))
            .Distinct();

    private static IEnumerable<Type> Constituents(Type t) =>
        t.HasElementType ? Constituents(t.GetElementType()!).Prepend(t)
        : t.IsGenericType ? t.GetGenericArguments().SelectMany(Constituents).Prepend(t)
        : [t];

    /// <summary>A type as the contract names it: its <c>[Alias]</c> when it has one, else its full CLR name; generic
    /// arguments in angle brackets, <c>?</c> for a nullable value type, <c>[]</c> for an array. No spaces.</summary>
    public static string Render(Type t, bool useAlias = true)
    {
        if (Nullable.GetUnderlyingType(t) is { } inner)
        {
            return Render(inner) + "?";
        }

        if (t.IsArray)
        {
            return Render(t.GetElementType()!) + "[" + new string(',', t.GetArrayRank() - 1) + "]";
        }

        if (t.IsByRef || t.IsGenericParameter)
        {
            return t.Name;
        }

        var definition = t.IsGenericType ? t.GetGenericTypeDefinition() : t;
        var name = (useAlias ? definition.GetCustomAttribute<AliasAttribute>()?.Alias : null) ?? definition.FullName!.Replace('+', '.');
        return t.IsGenericType ? name + "<" + string.Join(",", t.GetGenericArguments().Select(a => Render(a))) + ">" : name;
    }

    /// <summary>Splits a parameter list at its top-level commas (not those between a generic's arguments).</summary>
    private static List<string> SplitTopLevel(string s)
    {
        var parts = new List<string>();
        var depth = 0;
        var start = 0;
        for (var i = 0; i < s.Length; i++)
        {
            depth += s[i] switch { '<' or '[' => 1, '>' or ']' => -1, _ => 0 };
            if (s[i] == ',' && depth == 0)
            {
                parts.Add(s[start..i]);
                start = i + 1;
            }
        }

        parts.Add(s[start..]);
        return parts;
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
