using System.Collections;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace Scheduler.Cli;

/// <summary>
/// The protobuf JSON mapping of a message with every field of its descriptor present, at every depth. Google.Protobuf's
/// <c>WithFormatDefaultValues(true)</c> writes a zero or empty field, but still leaves out a field that has presence
/// and is unset — a message field (a queued job's <c>usage</c>, <c>placement</c>, <c>deadline</c>), a proto3
/// <c>optional</c> (<c>queuePosition</c>, <c>ttftAttainment</c>) or an unset oneof member — so a script's
/// <c>jq .usage.promptTokens</c> met a missing key on one job and a number on the next. Those are written as
/// <c>null</c> here, so the keys of an object depend on its type only.
/// </summary>
internal static class StableJson
{
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true));

    // As the protobuf formatter writes text: a job's output in any script stays readable (the default encoder writes
    // every non-ASCII character, and < > & +, as \uXXXX).
    private static readonly JsonSerializerOptions Writing = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    // Well-known types have a JSON form of their own (a Timestamp is a string, a Struct any object): not filled in.
    private static readonly HashSet<string> WellKnown = new(StringComparer.Ordinal)
    {
        "google.protobuf.Any", "google.protobuf.Duration", "google.protobuf.FieldMask", "google.protobuf.Timestamp",
        "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue", "google.protobuf.Empty",
        "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value", "google.protobuf.UInt64Value",
        "google.protobuf.Int32Value", "google.protobuf.UInt32Value", "google.protobuf.BoolValue", "google.protobuf.StringValue",
        "google.protobuf.BytesValue",
    };

    /// <summary>One message as a JSON object on one line.</summary>
    public static string Format(IMessage message)
    {
        var node = JsonNode.Parse(Formatter.Format(message))!;
        return Complete(message, node).ToJsonString(Writing);
    }

    // Rebuilt in field-number order, the formatter's own, so a filled-in key sits where it would have been written.
    private static JsonNode Complete(IMessage message, JsonNode node)
    {
        if (WellKnown.Contains(message.Descriptor.FullName) || node is not JsonObject formatted)
        {
            return node;
        }

        var complete = new JsonObject();
        foreach (var field in message.Descriptor.Fields.InFieldNumberOrder())
        {
            complete[field.JsonName] = formatted.TryGetPropertyValue(field.JsonName, out var value) && value is not null
                ? CompleteValue(field, field.Accessor.GetValue(message), value.DeepClone())
                : null;
        }

        // Nothing else is expected (the admin API has no extensions), but nothing the formatter wrote is dropped.
        foreach (var (name, value) in formatted.Where(p => !complete.ContainsKey(p.Key)).ToList())
        {
            complete[name] = value?.DeepClone();
        }

        return complete;
    }

    private static JsonNode CompleteValue(FieldDescriptor field, object value, JsonNode node)
    {
        if (field.IsMap)
        {
            var valueField = field.MessageType.FindFieldByNumber(2);
            if (valueField.FieldType != FieldType.Message || node is not JsonObject map)
            {
                return node;
            }

            // Map keys are written as strings; the dictionary's keys are matched the same way.
            foreach (DictionaryEntry entry in (IDictionary)value)
            {
                var key = entry.Key is bool b
                    ? (b ? "true" : "false")
                    : Convert.ToString(entry.Key, System.Globalization.CultureInfo.InvariantCulture)!;
                if (map[key] is { } element && entry.Value is IMessage item)
                {
                    map[key] = Complete(item, element.DeepClone());
                }
            }

            return node;
        }

        if (field.FieldType != FieldType.Message)
        {
            return node;
        }

        if (field.IsRepeated)
        {
            var items = ((IList)value).Cast<IMessage>().ToList();
            return node is JsonArray array && array.Count == items.Count
                ? new JsonArray([.. items.Select((item, i) => Complete(item, array[i]!.DeepClone()))])
                : node;
        }

        return Complete((IMessage)value, node);
    }
}
