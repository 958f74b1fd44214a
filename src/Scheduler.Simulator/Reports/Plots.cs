using ScottPlot;

namespace Scheduler.Simulator.Reports;

/// <summary>PNG charts of the results (ScottPlot).</summary>
internal static class Plots
{
    private const int Width = 1200;
    private const int Height = 650;

    /// <summary>Bars of several series side by side for each group (e.g. per placement: code trace, conv trace).</summary>
    public static void GroupedBars(string path, string title, string yLabel, IReadOnlyList<string> groups, IReadOnlyList<(string Name, double[] Values)> series)
    {
        using var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var width = 0.8 / series.Count;
        for (var s = 0; s < series.Count; s++)
        {
            var color = palette.GetColor(s);
            var bars = series[s].Values.Select((value, g) => new Bar
            {
                Position = g - 0.4 + (width * (s + 0.5)),
                Value = double.IsNaN(value) ? 0 : value,
                Size = width * 0.95,
                FillColor = color,
            }).ToList();
            plot.Add.Bars(bars);
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = series[s].Name, FillColor = color });
        }

        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, groups.Count).Select(g => (double)g).ToArray(), [.. groups]);
        plot.Axes.Bottom.TickLabelStyle.Rotation = 35;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        plot.Axes.Bottom.MinimumSize = 170;
        plot.Axes.Right.MinimumSize = 150; // room for the last rotated label
        plot.Axes.Margins(bottom: 0);
        plot.Title(title);
        plot.YLabel(yLabel);
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, Width, Height);
    }

    /// <summary>Cumulative distributions of a latency, one line per series.</summary>
    public static void Cdf(string path, string title, string xLabel, IReadOnlyList<(string Name, double[] Sorted)> series, double? xMax = null)
    {
        using var plot = new Plot();
        foreach (var (name, sorted) in series)
        {
            var step = Math.Max(1, sorted.Length / 500);
            var xs = new List<double>();
            var ys = new List<double>();
            for (var i = 0; i < sorted.Length; i += step)
            {
                xs.Add(sorted[i]);
                ys.Add((i + 1) / (double)sorted.Length);
            }

            if (sorted.Length > 0)
            {
                xs.Add(sorted[^1]);
                ys.Add(1);
            }

            var line = plot.Add.ScatterLine(xs.ToArray(), ys.ToArray());
            line.LegendText = name;
            line.LineWidth = 2;
        }

        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel("fraction of requests");
        if (xMax is { } max)
        {
            plot.Axes.SetLimitsX(0, max);
        }

        plot.Axes.SetLimitsY(0, 1.02);
        plot.ShowLegend(Alignment.LowerRight);
        plot.SavePng(path, Width, Height);
    }
}
