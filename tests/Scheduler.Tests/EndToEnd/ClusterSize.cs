using System.Globalization;

namespace Scheduler.Tests.EndToEnd;

/// <summary>A silo's own count of active cluster members, read from its Prometheus endpoint (Orleans' meter).</summary>
internal static class ClusterSize
{
    // The silos in the cluster's consistent ring, as this silo sees it: active members only.
    private const string Metric = "orleans_consistent_ring_size";

    /// <summary>The count the silo at <paramref name="httpAddress"/> (its metrics port) reports; null while it answers none.</summary>
    public static async Task<int?> ReadAsync(string httpAddress)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            var metrics = await http.GetStringAsync(new Uri($"{httpAddress.TrimEnd('/')}/metrics"));
            var line = metrics.Split('\n').FirstOrDefault(l => l.StartsWith(Metric, StringComparison.Ordinal));
            return line is null ? null : (int)double.Parse(line.Split(' ')[^1], CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }
}
