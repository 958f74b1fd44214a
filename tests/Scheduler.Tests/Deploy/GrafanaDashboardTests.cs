using System.Text.Json;
using System.Text.RegularExpressions;
using Scheduler.Tests.EndToEnd;
using Scheduler.Tests.Silo.Telemetry;

namespace Scheduler.Tests.Deploy;

/// <summary>The chart's Grafana dashboard queries series that exist: every metric its PromQL names is one the silo or
/// the worker exports. A renamed metric otherwise leaves a panel empty with no error anywhere.</summary>
public sealed partial class GrafanaDashboardTests
{
    // Prometheus's own series of each scrape target.
    private static readonly HashSet<string> PrometheusSeries = ["up"];

    // PromQL words that are not series: operators and aggregation modifiers.
    private static readonly HashSet<string> Keywords = ["by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"];

    [Fact]
    public void Queries_NameOnlyExportedMetrics()
    {
        var named = Queries().SelectMany(q => MetricNames(q.Query).Select(name => (Name: name, q.Panel))).ToList();
        var unknown = named.Where(m => !PrometheusSeries.Contains(m.Name) && !ExportedMetricNames.Contains(m.Name)).ToList();

        // The silo's, Orleans' and the worker's are all read.
        Assert.Contains(named, m => m.Name == "scheduler_jobs_submitted_total");
        Assert.Contains(named, m => m.Name == "orleans_catalog_activations");
        Assert.Contains(named, m => m.Name == "scheduler_engine_step_duration_seconds_bucket");

        Assert.True(unknown.Count == 0, "not exported: " + string.Join("; ", unknown.Select(m => $"{m.Name} ({m.Panel})")));
    }

    [Theory]
    [InlineData("sum by (le, scheduler_replica_id) (rate(a_b_bucket{namespace=\"$namespace\", le=\"5\"}[$__rate_interval]))", "a_b_bucket")]
    [InlineData("histogram_quantile(0.99, sum by (le) (rate(x_bucket{a=\"b\"}[5m]))) / on (pod) y - time()", "x_bucket,y")]
    [InlineData("label_values(scheduler_jobs_submitted_total, namespace)", "scheduler_jobs_submitted_total")]
    [InlineData("count(up{service=~\".*-silo-metrics\"} == 1) and ignoring (pod) z offset 5m", "up,z")]
    public void MetricNames_OfAQuery_AreItsSeriesNotItsLabelsFunctionsOrKeywords(string query, string expected)
    {
        Assert.Equal(expected.Split(','), MetricNames(query));
    }

    // Every "expr" of a panel's targets, and the "query" of a query variable (a datasource variable's names a plugin),
    // with where it is.
    private static List<(string Query, string Panel)> Queries()
    {
        using var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.Root, "helm", "scheduler", "dashboards", "scheduler.json")));
        var found = new List<(string Query, string Panel)>();
        Walk(dashboard.RootElement, "dashboard");
        Assert.NotEmpty(found);
        return found;

        void Walk(JsonElement element, string where)
        {
            if (element.ValueKind == JsonValueKind.Array)
            {
                foreach (var item in element.EnumerateArray())
                {
                    Walk(item, where);
                }
            }
            else if (element.ValueKind == JsonValueKind.Object)
            {
                var here = element.TryGetProperty("title", out var title) ? title.GetString()! : where;
                var variable = element.TryGetProperty("type", out var type) && type.ValueEquals("query");
                foreach (var property in element.EnumerateObject())
                {
                    if ((property.Name == "expr" || (variable && property.Name == "query")) && property.Value.ValueKind == JsonValueKind.String)
                    {
                        found.Add((property.Value.GetString()!, here));
                    }
                    else
                    {
                        Walk(property.Value, here);
                    }
                }
            }
        }
    }

    // The query without its label matchers, ranges, strings, grouping label lists and label_values' label; what names
    // remain, but the functions (followed by a parenthesis), keywords and numbers, are series.
    private static IEnumerable<string> MetricNames(string query)
    {
        var series = NotSeries().Replace(query, " ");
        return Identifier().Matches(series).Select(m => m.Value).Where(name => !Keywords.Contains(name)).Distinct();
    }

    [GeneratedRegex(@"\{[^}]*\}|\[[^\]]*\]|""[^""]*""|\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)|(?<=\blabel_values\([^,()]*),[^)]*")]
    private static partial Regex NotSeries();

    [GeneratedRegex(@"(?<![\w.$])[a-zA-Z_:][a-zA-Z0-9_:]*(?![\w(])(?!\s*\()")]
    private static partial Regex Identifier();
}
