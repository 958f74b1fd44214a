using System.Globalization;
using System.Text.RegularExpressions;

namespace Scheduler.Tests.Silo.Telemetry;

/// <summary>One sample of a Prometheus text exposition.</summary>
public sealed record PrometheusSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

/// <summary>Reads a silo's /metrics as Prometheus scrapes it.</summary>
public static partial class PrometheusScrape
{
    public static async Task<IReadOnlyList<PrometheusSample>> ReadAsync(HttpClient http, string httpAddress)
    {
        var text = await http.GetStringAsync(httpAddress + "/metrics");
        var samples = new List<PrometheusSample>();
        foreach (var line in text.Split('\n'))
        {
            if (Sample().Match(line) is not { Success: true } m)
            {
                continue;
            }

            var labels = Label().Matches(m.Groups["labels"].Value).ToDictionary(l => l.Groups["k"].Value, l => l.Groups["v"].Value);
            samples.Add(new PrometheusSample(m.Groups["name"].Value, labels, double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture)));
        }

        return samples;
    }

    /// <summary>The sum of <paramref name="name"/>'s samples whose labels include every pair in <paramref name="match"/>.</summary>
    public static double Sum(this IReadOnlyList<PrometheusSample> samples, string name, params (string Label, string Value)[] match) =>
        samples.Where(s => s.Name == name && match.All(p => s.Labels.TryGetValue(p.Label, out var v) && v == p.Value)).Sum(s => s.Value);

    /// <summary>True if <paramref name="name"/> has a sample with every label pair in <paramref name="match"/>.</summary>
    public static bool Has(this IReadOnlyList<PrometheusSample> samples, string name, params (string Label, string Value)[] match) =>
        samples.Any(s => s.Name == name && match.All(p => s.Labels.TryGetValue(p.Label, out var v) && v == p.Value));

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^}]*)\})? (?<value>\S+)")]
    private static partial Regex Sample();

    [GeneratedRegex(@"(?<k>[a-zA-Z_][a-zA-Z0-9_]*)=""(?<v>(\\.|[^""\\])*)""")]
    private static partial Regex Label();
}
