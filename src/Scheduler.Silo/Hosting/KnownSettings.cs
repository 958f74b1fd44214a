using System.Collections;
using System.Reflection;

namespace Scheduler.Silo.Hosting;

/// <summary>A section of settings the silo reads, and the type it binds to; <see cref="Settings"/> registers one for
/// each section it binds, so <see cref="KnownSettings"/> knows every key the silo reads.</summary>
public sealed record SettingsSection(string Path, Type Type);

/// <summary>
/// Finds the keys under "Scheduler" that no setting reads: a misspelt key (<c>Scheduler:PlacementPolcy</c>, a setting
/// at the wrong level) was silently ignored and the silo ran on the default. The silo warns of each at start-up,
/// naming the key it most likely meant; it does not refuse them, so a key an older chart still sets cannot stop a
/// rolling upgrade.
/// </summary>
internal sealed class KnownSettings
{
    // A path's segments; "*" stands for a list index or a dictionary key.
    private readonly List<string[]> _leaves = [];

    public KnownSettings(IEnumerable<SettingsSection> sections)
    {
        foreach (var section in sections)
        {
            Collect(section.Type, section.Path.Split(':'), depth: 0);
        }
    }

    /// <summary>The keys with a value under <paramref name="root"/> that no known setting is, each with the known key
    /// it most likely meant (null when none is close).</summary>
    public IReadOnlyList<(string Key, string? Meant)> Unknown(IConfigurationSection root) =>
        [.. root.AsEnumerable()
            .Where(entry => entry.Value is not null && !_leaves.Any(leaf => Matches(leaf, entry.Key.Split(':'))))
            .Select(entry => entry.Key)
            .Order(StringComparer.OrdinalIgnoreCase)
            .Select(key => (key, Closest(key)))];

    private void Collect(Type type, string[] path, int depth)
    {
        // Settings types are shallow; the bound guards against a type that refers to itself.
        if (depth > 8)
        {
            return;
        }

        if (IsLeaf(type))
        {
            _leaves.Add(path);
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

    private static bool Matches(string[] leaf, string[] key) =>
        leaf.Length == key.Length
        && leaf.Zip(key).All(p => p.First == "*" || p.First.Equals(p.Second, StringComparison.OrdinalIgnoreCase));

    // The known key whose last segment is nearest the unknown one's (a typo, or the right name at the wrong level),
    // its indexes taken from the unknown key where it has them (Scheduler:Tenants:0:Wieght → Scheduler:Tenants:0:Weight).
    private string? Closest(string key)
    {
        var segments = key.Split(':');
        var name = segments[^1];
        return _leaves
            .Where(leaf => leaf[^1] != "*")
            .Select(leaf => (Leaf: leaf, Distance: Distance(leaf[^1], name)))
            .Where(c => c.Distance <= Math.Max(1, name.Length / 3))
            .OrderBy(c => c.Distance)
            .Select(c => string.Join(':', c.Leaf.Select((s, i) => s != "*" ? s : i < segments.Length - 1 ? segments[i] : "0")))
            .FirstOrDefault();
    }

    // Levenshtein distance, case-insensitive.
    private static int Distance(string a, string b)
    {
        a = a.ToLowerInvariant();
        b = b.ToLowerInvariant();
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                current[j] = Math.Min(Math.Min(current[j - 1], previous[j]) + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }

            previous = current;
        }

        return previous[b.Length];
    }
}
