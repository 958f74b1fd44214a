using System.Globalization;
using System.Reflection;
using Google.Protobuf.Reflection;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.Contracts;

/// <summary>
/// The gRPC contract of <c>protos/scheduler/v1/*.proto</c> as compiled into Scheduler.Protos: every message's fields
/// (number, name, label, type, oneof) and reserved numbers and names, every enum's values and reservations, every
/// service's methods (request and response types, streaming). Old workers talk to new silos with it during a rolling
/// upgrade, and external clients for years. Read from the descriptors protoc embedded (so from what the code runs, not
/// from parsing .proto text); one self-contained line per element, in a fixed order.
/// </summary>
internal sealed record ProtoContract(IReadOnlyList<string> Files, IReadOnlyList<string> Lines)
{
    /// <summary>Every file of package scheduler.v1 that Scheduler.Protos compiled.</summary>
    public static ProtoContract Build()
    {
        var files = typeof(InferenceReflection).Assembly.GetTypes()
            .Select(t => t.GetProperty("Descriptor", BindingFlags.Public | BindingFlags.Static)?.GetValue(null)).OfType<FileDescriptor>()
            .Where(f => f.Package == "scheduler.v1").OrderBy(f => f.Name, StringComparer.Ordinal).ToList();
        var protos = files.Select(f => FileDescriptorProto.Parser.ParseFrom(f.SerializedData)).ToList();
        var messages = protos.SelectMany(p => p.MessageType.SelectMany(m => Flatten(p.Package, m)))
            .ToDictionary(m => m.FullName, m => m.Message, StringComparer.Ordinal);

        var lines = new List<string>();
        foreach (var (name, message) in messages.Where(m => m.Value.Options?.MapEntry != true).OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            lines.Add($"message {name}");
            lines.AddRange(message.Field.OrderBy(f => f.Number).Select(f => Invariant($"field {name} {f.Number} {f.Name} {Label(f, messages)} {TypeOf(f, messages)}") + OneofOf(f, message)));
            lines.AddRange(message.ReservedRange.OrderBy(r => r.Start).Select(r => Invariant($"reserved {name} {r.Start}-{r.End - 1}")));
            lines.AddRange(message.ReservedName.Order(StringComparer.Ordinal).Select(n => $"reserved-name {name} {n}"));
        }

        var enums = protos.SelectMany(p => p.EnumType.Select(e => (FullName: $"{p.Package}.{e.Name}", Enum: e))
            .Concat(p.MessageType.SelectMany(m => Flatten(p.Package, m)).SelectMany(m => m.Message.EnumType.Select(e => (FullName: $"{m.FullName}.{e.Name}", Enum: e)))));
        foreach (var (name, e) in enums.OrderBy(e => e.FullName, StringComparer.Ordinal))
        {
            lines.Add($"enum {name}");
            lines.AddRange(e.Value.OrderBy(v => v.Number).Select(v => Invariant($"value {name} {v.Number} {v.Name}")));
            // An enum's reserved range is inclusive at both ends (a message's excludes its end).
            lines.AddRange(e.ReservedRange.OrderBy(r => r.Start).Select(r => Invariant($"reserved {name} {r.Start}-{r.End}")));
            lines.AddRange(e.ReservedName.Order(StringComparer.Ordinal).Select(n => $"reserved-name {name} {n}"));
        }

        foreach (var service in protos.SelectMany(p => p.Service.Select(s => (FullName: $"{p.Package}.{s.Name}", Service: s))).OrderBy(s => s.FullName, StringComparer.Ordinal))
        {
            lines.AddRange(service.Service.Method.OrderBy(m => m.Name, StringComparer.Ordinal).Select(m =>
                $"rpc {service.FullName}/{m.Name} {(m.ClientStreaming ? "stream:" : "")}{m.InputType.TrimStart('.')} -> " +
                $"{(m.ServerStreaming ? "stream:" : "")}{m.OutputType.TrimStart('.')}"));
        }

        return new ProtoContract([.. files.Select(f => f.Name)], lines);
    }

    private static IEnumerable<(string FullName, DescriptorProto Message)> Flatten(string scope, DescriptorProto m)
    {
        var name = $"{scope}.{m.Name}";
        return m.NestedType.SelectMany(n => Flatten(name, n)).Prepend((name, m));
    }

    // "optional" for a proto3 optional (explicit presence), "map" for a map, else repeated or singular.
    private static string Label(FieldDescriptorProto f, IReadOnlyDictionary<string, DescriptorProto> messages) =>
        f.Proto3Optional ? "optional"
        : f.Label == FieldDescriptorProto.Types.Label.Repeated ? (MapEntry(f, messages) is null ? "repeated" : "map")
        : "singular";

    private static string TypeOf(FieldDescriptorProto f, IReadOnlyDictionary<string, DescriptorProto> messages)
    {
        if (MapEntry(f, messages) is { } entry)
        {
            return $"map<{TypeOf(entry.Field.Single(x => x.Number == 1), messages)},{TypeOf(entry.Field.Single(x => x.Number == 2), messages)}>";
        }

        return f.Type is FieldDescriptorProto.Types.Type.Message or FieldDescriptorProto.Types.Type.Enum
            ? f.TypeName.TrimStart('.')
            : f.Type.ToString().ToLowerInvariant();
    }

    private static DescriptorProto? MapEntry(FieldDescriptorProto f, IReadOnlyDictionary<string, DescriptorProto> messages) =>
        f.Type == FieldDescriptorProto.Types.Type.Message && messages.TryGetValue(f.TypeName.TrimStart('.'), out var m) && m.Options?.MapEntry == true
            ? m
            : null;

    // A proto3 optional sits in a synthetic oneof of its own, which is not part of the contract.
    private static string OneofOf(FieldDescriptorProto f, DescriptorProto message) =>
        f.HasOneofIndex && !f.Proto3Optional ? " oneof:" + message.OneofDecl[f.OneofIndex].Name : "";

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
