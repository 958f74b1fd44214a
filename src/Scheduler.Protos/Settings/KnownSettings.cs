using System.Collections;
using System.ComponentModel;
using System.Reflection;

namespace Scheduler.Protos.Settings;

/// <summary>
/// The keys a process reads, derived from the types its settings sections bind to, and the two checks the
/// configuration binder does not make. A value that does not convert inside a list item (<c>Models:0:MaxContextTokens=abc</c>)
/// makes the binder drop the whole item without a word — a model, a tenant or an accelerator silently gone; and a
/// misspelt key (<c>PlacementPolcy</c>) is silently ignored, the process running on the default.
/// </summary>
public sealed class KnownSettings
{
    // A path's segments ("*" stands for a list index or a dictionary key) and the type of its value.
    private readonly List<(string[] Path, Type Type)> _leaves = [];

    /// <param name="sections">Each section's path (e.g. "Scheduler:Scheduling") and the type it binds to.</param>
    public KnownSettings(IEnumerable<(string Path, Type Type)> sections)
    {
        foreach (var (path, type) in sections)
        {
            Collect(type, path.Split(':'), depth: 0);
        }
    }

    /// <summary>The keys among <paramref name="entries"/> (a configuration's <c>AsEnumerable()</c>) with a value that no
    /// known setting is, each with the known key it most likely meant (null when none is close).</summary>
    public IReadOnlyList<(string Key, string? Meant)> Unknown(IEnumerable<KeyValuePair<string, string?>> entries) =>
        [.. entries
            .Where(entry => entry.Value is not null && Find(entry.Key) is null)
            .Select(entry => entry.Key)
            .Order(StringComparer.OrdinalIgnoreCase)
            .Select(key => (key, Closest(key)))];

    /// <summary>The first known key among <paramref name="entries"/> whose value does not convert to its setting's type,
    /// said as the binder says it ("Failed to convert configuration value 'abc' at 'Worker:Port' to type
    /// 'System.Int32'."); null when every value converts.</summary>
    public string? Unconvertible(IEnumerable<KeyValuePair<string, string?>> entries)
    {
        foreach (var (key, value) in entries.OrderBy(e => e.Key, StringComparer.OrdinalIgnoreCase))
        {
            if (string.IsNullOrEmpty(value) || Find(key) is not { } type || Converts(value, type))
            {
                continue;
            }

            return $"Failed to convert configuration value '{value}' at '{key}' to type '{type}'.";
        }

        return null;
    }

    private Type? Find(string key)
    {
        var segments = key.Split(':');
        foreach (var (path, type) in _leaves)
        {
            if (path.Length == segments.Length
                && path.Zip(segments).All(p => p.First == "*" || p.First.Equals(p.Second, StringComparison.OrdinalIgnoreCase)))
            {
                return type;
            }
        }

        return null;
    }

    // As the binder converts: the type's TypeConverter, from the invariant culture.
    private static bool Converts(string value, Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(string) || type == typeof(object))
        {
            return true;
        }

        try
        {
            TypeDescriptor.GetConverter(type).ConvertFromInvariantString(value);
            return true;
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or NotSupportedException or OverflowException)
        {
            return false;
        }
    }

    private void Collect(Type type, string[] path, int depth)
    {
        // Settings types are shallow; the bound guards against a type that refers to itself.
        if (depth > 8)
        {
            return;
        }

        if (IsLeaf(type))
        {
            _leaves.Add((path, type));
            return;
        }

        if (ElementOf(type) is { } element)
        {
            Collect(element, [.. path, "*"], depth + 1);
            return;
        }

        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                     .Where(p => p.GetIndexParameters().Length == 0 && (p.CanWrite || !IsLeaf(p.PropertyType))))
        {
            Collect(property.PropertyType, [.. path, property.Name], depth + 1);
        }
    }

    private static bool IsLeaf(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(TimeSpan)
            || type == typeof(DateTimeOffset) || type == typeof(DateTime) || type == typeof(Uri) || type == typeof(Guid);
    }

    // A list's or array's element, or a string-keyed dictionary's value.
    private static Type? ElementOf(Type type)
    {
        if (type.IsArray)
        {
            return type.GetElementType();
        }

        if (!type.IsGenericType || !typeof(IEnumerable).IsAssignableFrom(type))
        {
            return null;
        }

        var arguments = type.GetGenericArguments();
        return arguments.Length == 2 ? arguments[1] : arguments[0];
    }

    // The known key whose last segment is nearest the unknown one's (a typo, or the right name at the wrong level),
    // its indexes taken from the unknown key where it has them (Scheduler:Tenants:0:Wieght → Scheduler:Tenants:0:Weight).
    private string? Closest(string key)
    {
        var segments = key.Split(':');
        var name = segments[^1];
        return _leaves
            .Where(leaf => leaf.Path[^1] != "*")
            .Select(leaf => (leaf.Path, Distance: Distance(leaf.Path[^1], name)))
            .Where(c => c.Distance <= Math.Max(1, name.Length / 3))
            .OrderBy(c => c.Distance)
            .Select(c => string.Join(':', c.Path.Select((s, i) => s != "*" ? s : i < segments.Length - 1 ? segments[i] : "0")))
            .FirstOrDefault();
    }

    // Edit distance counting a swap of two neighbours as one edit (optimal string alignment), case-insensitive: the
    // typos people make ("Prot", "Wieght") are one edit away.
    private static int Distance(string a, string b)
    {
        a = a.ToLowerInvariant();
        b = b.ToLowerInvariant();
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                d[i, j] = Math.Min(Math.Min(d[i - 1, j], d[i, j - 1]) + 1, d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }
}
