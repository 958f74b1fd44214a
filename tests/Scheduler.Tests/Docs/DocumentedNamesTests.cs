using System.Collections;
using System.Reflection;
using System.Text.RegularExpressions;
using Scheduler.Silo.Hosting;
using Scheduler.Standalone;
using Scheduler.Tests.EndToEnd;
using Scheduler.Tests.Silo.Telemetry;
using Scheduler.Worker.Hosting;

namespace Scheduler.Tests.Docs;

/// <summary>The names the docs tell an operator to use exist: every setting key (<c>Scheduler:…</c>, <c>Worker:…</c>,
/// <c>Scheduling:…</c>) is one the silo, the standalone or the worker reads, and every metric or label name in a table
/// is one the silo or the worker exports. A renamed setting or metric otherwise leaves the docs naming a key that is silently
/// ignored, or a series that never appears.</summary>
public sealed partial class DocumentedNamesTests
{
    // Shown on purpose as a setting that does not exist (the start-up warning for a misspelt key).
    private static readonly HashSet<string> DeliberateMisspellings = ["Scheduler:PlacementPolcy"];

    // Each section the silo declares as it is built, the standalone's embedded fleet, and the worker's.
    private static readonly (string Path, Type Type)[] Sections =
    [
        .. SchedulerHost.CreateBuilder([]).Services.Select(d => d.ImplementationInstance).OfType<SettingsSection>().Select(s => (s.Path, s.Type)),
        (EmbeddedFleetOptions.Section, typeof(EmbeddedFleetOptions)),
        (WorkerNodeOptions.SectionName, typeof(WorkerNodeOptions)),
    ];

    [Fact]
    public void SettingKeys_InTheDocs_AreReadBySiloStandaloneOrWorker()
    {
        var documented = DocumentedSettingKeys().ToList();
        var unknown = documented.Where(k => !DeliberateMisspellings.Contains(k.Key) && !IsSetting(k.Key)).ToList();

        Assert.Contains(documented, k => k.Key == "Scheduler:Scheduling:PlacementPolicy");

        Assert.True(unknown.Count == 0, "not a setting: " + string.Join("; ", unknown.Select(k => $"{k.Key} ({k.Where})")));
    }

    [Fact]
    public void MetricAndLabelNames_InTheDocsTables_AreExported()
    {
        var documented = DocumentedMetricNames().ToList();
        var unknown = documented.Where(m => !ExportedMetricNames.Contains(m.Name)).ToList();

        Assert.Contains(documented, m => m.Name == "scheduler_jobs_submitted_total");
        Assert.Contains(documented, m => m.Name == "scheduler_engine_generated_tokens_total");

        Assert.True(unknown.Count == 0, "not exported: " + string.Join("; ", unknown.Select(m => $"{m.Name} ({m.Where})")));
    }

    [Fact]
    public void IsSetting_NamesASectionOrALeaf_NotAMisspeltOne()
    {
        Assert.True(IsSetting("Scheduler:Tls"));
        Assert.True(IsSetting("Scheduler:Models:0:MaxContextTokens"));
        Assert.True(IsSetting("Worker:Accelerators:0:Upstream:BaseUrl"));
        Assert.False(IsSetting("Scheduler:PlacementPolcy"));
        Assert.False(IsSetting("Worker:Accelerators:0:Upstream:BaseUrl:Extra"));
    }

    private static IEnumerable<string> DocFiles() =>
        [Path.Combine(RepoPaths.Root, "README.md"), .. Directory.GetFiles(Path.Combine(RepoPaths.Root, "docs"), "*.md")];

    private static IEnumerable<(string Key, string Where)> DocumentedSettingKeys() =>
        from file in DocFiles()
        from line in File.ReadLines(file).Select((text, i) => (text, number: i + 1))
        from Match m in SettingKey().Matches(line.text)
        let key = m.Value.StartsWith("Scheduling:", StringComparison.Ordinal) ? "Scheduler:" + m.Value : m.Value
        select (Placeholder().Replace(key.EndsWith(":*", StringComparison.Ordinal) ? key[..^2] : key, ":0"), $"{Path.GetFileName(file)}:{line.number}");

    private static IEnumerable<(string Name, string Where)> DocumentedMetricNames() =>
        from file in DocFiles()
        from line in File.ReadLines(file).Select((text, i) => (text, number: i + 1))
        let row = MetricRow().Match(line.text)
        where row.Success
        select (row.Groups[1].Value, $"{Path.GetFileName(file)}:{line.number}");

    // Walks the key's segments through the section types' properties (an index or dictionary key for a list or map):
    // true when it names a setting or a section of them.
    private static bool IsSetting(string key)
    {
        var segments = key.Split(':');
        return Sections.Any(section =>
        {
            var path = section.Path.Split(':');
            return segments.Length >= path.Length && path.AsSpan().SequenceEqual(segments.AsSpan(0, path.Length))
                && Resolves(section.Type, segments.AsSpan(path.Length));
        });
    }

    private static bool Resolves(Type type, ReadOnlySpan<string> segments)
    {
        if (segments.IsEmpty)
        {
            return true;
        }

        if (type.IsValueType || type == typeof(string))
        {
            return false;
        }

        if (!typeof(IEnumerable).IsAssignableFrom(type))
        {
            return type.GetProperty(segments[0], BindingFlags.Public | BindingFlags.Instance) is { } property
                && Resolves(property.PropertyType, segments[1..]);
        }

        var element = type.IsArray ? type.GetElementType()! : type.GetGenericArguments()[^1];
        return Resolves(element, segments[1..]);
    }

    // A key as the docs write it: its placeholders for an index (N, M, *) read as index 0, and a trailing ":*" (every
    // key of a section) as the section; one ending in a glob (Price*) is a family of keys, read up to the glob.
    [GeneratedRegex(@"(?<![\w:])(?:Scheduler|Worker|Scheduling)(?::(?:[A-Z][A-Za-z0-9]*|\d+|\*))+(?![\w*])")]
    private static partial Regex SettingKey();

    [GeneratedRegex(@":(?:N|M|\*)(?=:|$)")]
    private static partial Regex Placeholder();

    // The first cell of a table row: a metric or label name as Prometheus shows it.
    [GeneratedRegex(@"^\| `((?:scheduler|gen_ai)_[a-z_]+)` \|")]
    private static partial Regex MetricRow();
}
