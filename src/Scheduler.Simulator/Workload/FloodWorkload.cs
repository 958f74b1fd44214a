namespace Scheduler.Simulator.Workload;

/// <summary>
/// The fairness scenario: a light tenant sends Poisson arrivals at <c>lightRate</c> requests/s and a flooding
/// tenant, of the same weight, at <c>floodMultiplier</c> times that; request sizes are drawn (seeded) from a trace.
/// The same light arrivals are replayed with and without the flood, so the light tenant's p99 TTFT can be compared.
/// </summary>
internal static class FloodWorkload
{
    public const string Light = "light";
    public const string Flood = "flood";

    public static Workload Create(IReadOnlyList<TraceRow> sizes, double lightRate, double floodMultiplier, double durationSeconds, bool withFlood, int seed)
    {
        var requests = Arrivals(Light, sizes, lightRate, durationSeconds, new Random(seed));
        if (withFlood)
        {
            requests.AddRange(Arrivals(Flood, sizes, lightRate * floodMultiplier, durationSeconds, new Random(seed + 1)));
            requests.Sort((a, b) => a.ArrivalMs.CompareTo(b.ArrivalMs));
        }

        var weights = new Dictionary<string, double> { [Light] = 1, [Flood] = 1 };
        return new Workload(withFlood ? "flood" : "alone", requests, weights);
    }

    private static List<SimRequest> Arrivals(string tenant, IReadOnlyList<TraceRow> sizes, double rate, double durationSeconds, Random random)
    {
        var requests = new List<SimRequest>();
        var at = 0.0;
        while (true)
        {
            at += -Math.Log(1 - random.NextDouble()) / rate * 1000;
            if (at > durationSeconds * 1000)
            {
                return requests;
            }

            var row = sizes[random.Next(sizes.Count)];
            requests.Add(TenantAssignment.Request($"{tenant}-{requests.Count}", tenant, at, row));
        }
    }
}
