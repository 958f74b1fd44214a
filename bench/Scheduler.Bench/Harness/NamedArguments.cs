using System.Globalization;

namespace Scheduler.Bench.Harness;

/// <summary>A bench's <c>--name value</c> pairs: each setting is taken once, with its fallback when absent, and a
/// name left over is refused, so a mistyped setting is an error rather than silently the default.</summary>
internal sealed class NamedArguments
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    /// <exception cref="ArgumentException">The arguments are not <c>--name value</c> pairs.</exception>
    public NamedArguments(string[] args)
    {
        for (var i = 0; i < args.Length; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                throw new ArgumentException($"expected --name value pairs, got \"{args[i]}\"");
            }

            _values[args[i][2..]] = args[i + 1];
        }
    }

    /// <summary>The integer <c>--name</c>, at least <paramref name="min"/>; <paramref name="fallback"/> when absent.</summary>
    public int Int(string name, int fallback, int min)
    {
        if (!_values.Remove(name, out var text))
        {
            return fallback;
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min
            ? value
            : throw new ArgumentException($"--{name} must be an integer of at least {min}, got \"{text}\"");
    }

    /// <summary>The text of <c>--name</c>; <paramref name="fallback"/> when absent.</summary>
    public string Text(string name, string fallback) => _values.Remove(name, out var text) ? text : fallback;

    /// <summary>Returns <paramref name="settings"/> once every argument was taken; else refuses the first left over.</summary>
    public T AllTaken<T>(T settings) =>
        _values.Count == 0 ? settings : throw new ArgumentException($"unknown setting --{_values.Keys.First()}");
}
