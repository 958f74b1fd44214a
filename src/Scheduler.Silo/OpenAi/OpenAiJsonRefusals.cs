using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Grpc.Core;
using Scheduler.Silo.Api;

namespace Scheduler.Silo.OpenAi;

/// <summary>
/// The refusals of a request body System.Text.Json could not read, in a client's words: where malformed JSON breaks, and
/// for a field of the wrong type its name, what it must be and what it got ("stream: must be a boolean (true or false),
/// got the number 1"). The serializer's own messages name .NET types ("could not be converted to
/// System.Nullable`1[System.Boolean]") and its positions are zero-based; an outside probe read them as internals.
/// </summary>
internal static class OpenAiJsonRefusals
{
    /// <summary>Why a JSON string that parsed cannot be read as text. The parser lets through raw bytes that are not UTF-8
    /// and escaped lone surrogates; turning either into a string throws.</summary>
    public const string NotUtf8 = "is not valid UTF-8 text (bytes that are not UTF-8, or an escaped lone surrogate)";

    /// <summary>A body that is not JSON: the line and byte where the parser stopped, and why, without the serializer's
    /// zero-based position suffix.</summary>
    public static RpcException Malformed(JsonException ex)
    {
        var reason = ex.Message;
        var suffix = reason.IndexOf(" LineNumber:", StringComparison.Ordinal);
        reason = (suffix >= 0 ? reason[..suffix] : reason).TrimEnd('.', ' ');
        var where = ex.LineNumber is { } line && ex.BytePositionInLine is { } position
            ? string.Create(CultureInfo.InvariantCulture, $" at line {line + 1}, byte {position + 1}")
            : "";
        return SchedulerErrors.InvalidArgument("body", $"is not valid JSON{where}: {reason}");
    }

    /// <summary>The field of <paramref name="body"/> that <paramref name="ex"/>, raised reading it as
    /// <paramref name="type"/>, is about, named as the request names it ("messages[0].role").</summary>
    public static RpcException WrongType(JsonException ex, JsonElement body, JsonTypeInfo type) =>
        ex.Path is { } path && Find(path, body, type) is var (param, value, field)
            ? SchedulerErrors.InvalidArgument(param, value.ValueKind == JsonValueKind.String && field == typeof(string)
                // A string refused by a string field is one the serializer could not turn into text.
                ? NotUtf8
                : $"must be {Expected(field, value)}, got {Got(value, IsNumber(field))}")
            : SchedulerErrors.InvalidArgument("body", "has a field of the wrong JSON type");

    /// <summary>Follows a serializer path ("$.messages[0].role", "$['odd name']") through the body and its type; null
    /// where the two part ways.</summary>
    private static (string Param, JsonElement Value, Type Field)? Find(string path, JsonElement element, JsonTypeInfo type)
    {
        var param = new StringBuilder();
        var i = path.StartsWith('$') ? 1 : 0;
        while (i < path.Length)
        {
            if (path[i] == '.' || path.AsSpan(i).StartsWith("['"))
            {
                var quoted = path[i] == '[';
                var start = i + (quoted ? 2 : 1);
                var end = quoted ? path.IndexOf("']", start, StringComparison.Ordinal) : path.IndexOfAny(['.', '['], start);
                end = end < 0 ? path.Length : end;
                var name = path[start..end];
                var property = type.Properties.FirstOrDefault(p => p.Name == name);
                if (property is null || element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(name, out element))
                {
                    return null;
                }

                type = type.Options.GetTypeInfo(property.PropertyType);
                param.Append(param.Length > 0 ? "." : "").Append(name);
                i = end + (quoted ? 2 : 0);
            }
            else if (path[i] == '[')
            {
                var end = path.IndexOf(']', i);
                if (end < 0 || !int.TryParse(path.AsSpan(i + 1, end - i - 1), CultureInfo.InvariantCulture, out var index)
                    || type.ElementType is not { } item || element.ValueKind != JsonValueKind.Array || index >= element.GetArrayLength())
                {
                    return null;
                }

                element = element[index];
                type = type.Options.GetTypeInfo(item);
                param.Append(CultureInfo.InvariantCulture, $"[{index}]");
                i = end + 1;
            }
            else
            {
                return null;
            }
        }

        return param.Length > 0 ? (param.ToString(), element, Nullable.GetUnderlyingType(type.Type) ?? type.Type) : null;
    }

    private static string Expected(Type field, JsonElement value)
    {
        // A number refused by a number field is out of its range (or, for a whole number field, not written whole).
        var outOfRange = value.ValueKind == JsonValueKind.Number && !value.GetRawText().AsSpan().ContainsAny('.', 'e', 'E');
        return field switch
        {
            _ when field == typeof(bool) => "a boolean (true or false)",
            _ when field == typeof(int) => outOfRange ? Range("a whole number", int.MinValue, int.MaxValue) : "a whole number",
            _ when field == typeof(long) => outOfRange ? Range("a whole number", long.MinValue, long.MaxValue) : "a whole number",
            _ when field == typeof(float) => "a number",
            _ when field == typeof(string) => "a string",
            _ when field.IsAssignableTo(typeof(System.Collections.IEnumerable)) => "a list",
            _ => "an object",
        };

        static string Range<T>(string what, T min, T max) where T : IFormattable =>
            $"{what} from {min.ToString(null, CultureInfo.InvariantCulture)} to {max.ToString(null, CultureInfo.InvariantCulture)}";
    }

    private static bool IsNumber(Type field) => field == typeof(int) || field == typeof(long) || field == typeof(float);

    /// <summary>What the request sent; a number as it was written ("2.0", not "2"), said to be one unless a number was
    /// expected.</summary>
    private static string Got(JsonElement value, bool numberExpected) => value.ValueKind switch
    {
        JsonValueKind.Number => numberExpected ? SchedulerErrors.Echo(value.GetRawText()) : "the number " + SchedulerErrors.Echo(value.GetRawText()),
        // From its bytes: GetRawText throws on a string that is not UTF-8, which a client then saw as a 500.
        JsonValueKind.String => "the string " + SchedulerErrors.Echo(Encoding.UTF8.GetString(JsonMarshal.GetRawUtf8Value(value))),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        JsonValueKind.Null => "null",
        JsonValueKind.Array => "a list",
        _ => "an object",
    };
}
