namespace Scheduler.Simulator.Workload;

/// <summary>
/// The traces have no tenant column. Each row goes to one of <see cref="Tenants"/> tenants by a seeded Zipf
/// draw (exponent 1: tenant-0 sends about 37% of requests, tenant-7 about 5%), all of weight 1, so the matrix
/// sees a few heavy tenants and a long tail. The arrival rate is multiplied by <c>rateFactor</c> (offsets divided).
/// </summary>
internal static class TenantAssignment
{
    public const int Tenants = 8;
    public const int DefaultSeed = 42;

    // One string per tenant, not one per request: a week-long trace has millions of requests.
    private static readonly string[] s_tenants = [.. Enumerable.Range(0, Tenants).Select(i => $"tenant-{i}")];

    public static Workload FromTrace(string name, IReadOnlyList<TraceRow> rows, double rateFactor, int seed = DefaultSeed, double? durationSeconds = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(rateFactor, 0);
        var random = new Random(seed);
        var cumulative = ZipfCumulative(Tenants);
        var requests = new List<SimRequest>(rows.Count);
        foreach (var row in rows)
        {
            var arrival = row.OffsetMs / rateFactor;
            if (durationSeconds is { } limit && arrival > limit * 1000)
            {
                break;
            }

            var tenant = Array.BinarySearch(cumulative, random.NextDouble());
            tenant = tenant < 0 ? ~tenant : tenant;
            requests.Add(Request($"{name}-{requests.Count}", s_tenants[Math.Min(tenant, Tenants - 1)], arrival, row));
        }

        var weights = s_tenants.ToDictionary(t => t, _ => 1.0);
        return new Workload(name, requests, weights);
    }

    /// <summary>A request from a trace row (the reader refused a row without a prompt or output token).</summary>
    public static SimRequest Request(string id, string tenant, double arrivalMs, TraceRow row) =>
        new(id, tenant, arrivalMs, row.PromptTokens, row.OutputTokens, TtftObjective.For(row.PromptTokens));

    private static double[] ZipfCumulative(int n)
    {
        var weights = Enumerable.Range(1, n).Select(k => 1.0 / k).ToArray();
        var total = weights.Sum();
        var cumulative = new double[n];
        var sum = 0.0;
        for (var i = 0; i < n; i++)
        {
            sum += weights[i] / total;
            cumulative[i] = sum;
        }

        return cumulative;
    }
}
