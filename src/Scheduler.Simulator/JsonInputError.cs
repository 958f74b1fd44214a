using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Scheduler.Simulator;

/// <summary>
/// What is wrong with a JSON input the serializer refused, in the file's own words: the key and the value as written
/// (<c>nodes[0].count: 1.5 is not a whole number</c>, <c>unknown key 'chat_id'; the keys are timestamp, …</c>) rather
/// than the serializer's message, which names the simulator's .NET types ("could not be converted to
/// Scheduler.Simulator.Workload.KvTraceRow", "could not be mapped to any .NET member contained in type …") and not the
/// value. Only run once a read failed: the fleet files and the KV-cache traces' lines are read by the serializer alone.
/// </summary>
internal static class JsonInputError
{
    /// <summary>The first thing in <paramref name="json"/> that is not a <paramref name="type"/> as
    /// <paramref name="options"/> read it (an unknown, repeated or missing key, or a value of the wrong kind), as
    /// "path: problem"; null when none is found (a syntax error: the serializer's own message says where).</summary>
    public static string? Explain(string json, Type type, JsonSerializerOptions options)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = options.ReadCommentHandling, AllowTrailingCommas = options.AllowTrailingCommas });
        }
        catch (JsonException)
        {
            return null;
        }

        using (document)
        {
            return Check(document.RootElement, options.GetTypeInfo(type), "", options);
        }
    }

    private static string? Check(JsonElement element, JsonTypeInfo info, string path, JsonSerializerOptions options)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            return $"{Where(path)}{Value(element)} is not a JSON object";
        }

        var comparison = options.PropertyNameCaseInsensitive ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal;
        var seen = new HashSet<string>(comparison);
        foreach (var property in element.EnumerateObject())
        {
            var key = Path(path, property.Name);
            if (!seen.Add(property.Name))
            {
                return $"{key}: given twice";
            }

            var known = info.Properties.FirstOrDefault(p => comparison.Equals(p.Name, property.Name));
            if (known is null)
            {
                return $"{Where(path)}unknown key '{Quoted.Text(property.Name)}'; the keys are {string.Join(", ", info.Properties.Select(p => p.Name))}";
            }

            if (CheckValue(property.Value, known.PropertyType, known.CustomConverter is not null, key, options) is { } problem)
            {
                return problem;
            }
        }

        var missing = info.Properties.Where(p => p.IsRequired && !seen.Contains(p.Name)).Select(p => p.Name).ToList();
        return missing.Count == 0 ? null : $"{Where(path)}missing key{(missing.Count == 1 ? "" : "s")} {string.Join(", ", missing.Select(m => $"'{m}'"))}";
    }

    private static string? CheckValue(JsonElement value, Type type, bool ownConverter, string key, JsonSerializerOptions options)
    {
        var underlying = Nullable.GetUnderlyingType(type);
        if (value.ValueKind == JsonValueKind.Null)
        {
            // A null reference is the readers' own check to make (they name it: "hash_ids: null, not a list").
            return type.IsValueType && underlying is null ? $"{key}: null is not {Expected(type)}" : null;
        }

        type = underlying ?? type;
        if (ownConverter)
        {
            // A timestamp: a number or a time as a string; the converter words the rest.
            return value.ValueKind is JsonValueKind.Number or JsonValueKind.String ? null : $"{key}: {Value(value)} is neither a number nor a string";
        }

        var fits = type switch
        {
            _ when type == typeof(int) => Whole(value, options, int.MinValue, int.MaxValue),
            _ when type == typeof(long) => Whole(value, options, long.MinValue, long.MaxValue),
            _ when type == typeof(double) => value.ValueKind == JsonValueKind.Number || (value.ValueKind == JsonValueKind.String && FromString(options) && double.TryParse(value.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out _)),
            _ when type == typeof(string) => value.ValueKind == JsonValueKind.String,
            { IsEnum: true } => value.ValueKind == JsonValueKind.String && Enum.GetNames(type).Contains(value.GetString(), StringComparer.OrdinalIgnoreCase),
            _ => true,
        };
        if (!fits)
        {
            return $"{key}: {Value(value)} is not {Expected(type)}";
        }

        if (ElementType(type) is not { } item)
        {
            return type.IsClass && type != typeof(string) && !type.IsArray ? Check(value, options.GetTypeInfo(type), key, options) : null;
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            return $"{key}: {Value(value)} is not a list";
        }

        var index = 0;
        foreach (var element in value.EnumerateArray())
        {
            if (CheckValue(element, item, ownConverter: false, $"{key}[{index++}]", options) is { } problem)
            {
                return problem;
            }
        }

        return null;
    }

    private static bool Whole(JsonElement value, JsonSerializerOptions options, long min, long max) => value.ValueKind switch
    {
        JsonValueKind.Number => value.TryGetInt64(out var n) && n >= min && n <= max,
        JsonValueKind.String => FromString(options) && long.TryParse(value.GetString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var s) && s >= min && s <= max,
        _ => false,
    };

    private static bool FromString(JsonSerializerOptions options) => (options.NumberHandling & System.Text.Json.Serialization.JsonNumberHandling.AllowReadingFromString) != 0;

    private static string Expected(Type type) => type switch
    {
        _ when type == typeof(int) => string.Create(CultureInfo.InvariantCulture, $"a whole number (at most {int.MaxValue:#,0})"),
        _ when type == typeof(long) => "a whole number (a 64-bit integer)",
        _ when type == typeof(double) => "a number",
        _ when type == typeof(string) => "a string",
        { IsEnum: true } => $"one of {string.Join(", ", Enum.GetNames(type).Select(n => JsonNamingPolicy.CamelCase.ConvertName(n)))}",
        _ => "a value of the right kind",
    };

    private static Type? ElementType(Type type) =>
        type.IsArray ? type.GetElementType()
        : type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IReadOnlyList<>) ? type.GetGenericArguments()[0]
        : null;

    private static string Value(JsonElement value) => Quoted.Text(value.GetRawText());

    private static string Path(string path, string key) => path.Length == 0 ? key : $"{path}.{key}";

    private static string Where(string path) => path.Length == 0 ? "" : $"{path}: ";
}
