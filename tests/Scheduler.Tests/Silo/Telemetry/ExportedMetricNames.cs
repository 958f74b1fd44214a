using System.Reflection;
using System.Text.RegularExpressions;
using Scheduler.Silo.Telemetry;
using Scheduler.Worker.Telemetry;

namespace Scheduler.Tests.Silo.Telemetry;

/// <summary>The metric and label names the silo and the worker export, as Prometheus shows them: the constants of the
/// scheduler's and the worker's conventions, and Orleans' own instrument names (its meter is exported with the silo's).
/// Read from the code rather than a scrape, since a gauge without series or a histogram nothing recorded yet is absent
/// from one.</summary>
internal static partial class ExportedMetricNames
{
    private static readonly HashSet<string> Names =
        new[] { typeof(SemanticConventions), typeof(WorkerTelemetry), OrleansInstrumentNames() }
            .SelectMany(t => t.GetFields(BindingFlags.Public | BindingFlags.Static))
            .Where(f => f.IsLiteral && f.FieldType == typeof(string))
            .Select(f => ((string)f.GetValue(null)!).Replace('.', '_').Replace('-', '_'))
            .ToHashSet(StringComparer.Ordinal);

    /// <summary>True if <paramref name="prometheusName"/> is an exported name, with or without the unit and type
    /// suffixes Prometheus adds (<c>_seconds</c>, <c>_total</c>, <c>_bucket</c>, ...).</summary>
    public static bool Contains(string prometheusName) => Names.Contains(PrometheusSuffix().Replace(prometheusName, ""));

    private static Type OrleansInstrumentNames() =>
        Assembly.Load("Orleans.Core").GetTypes().Single(t => t.Name == "InstrumentNames");

    [GeneratedRegex("(_seconds|_milliseconds)?(_total|_bucket|_sum|_count)?$")]
    private static partial Regex PrometheusSuffix();
}
