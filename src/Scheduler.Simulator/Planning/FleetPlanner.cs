using System.Globalization;
using Scheduler.Simulator.Fleet;
using Scheduler.Simulator.Metrics;
using Scheduler.Simulator.Reports;

namespace Scheduler.Simulator.Planning;

/// <summary>
/// Fleet planning (the Mélange idea, Griggs et al. 2024): the cheapest count of each accelerator type in a catalogue
/// that still meets the objective (≥ <see cref="RequiredAttainment"/> of requests within their TTFT objective) on a
/// workload, judged by simulating it with the default policies. Cost is the provisioned cost: hourly accelerators
/// for the whole makespan, plus metered tokens. The search is a greedy descent from the catalogue's maximum counts:
/// at each step, remove the one hourly accelerator whose removal leaves the cheapest fleet that still meets the
/// objective; stop when no removal does. Metered endpoints cost nothing while idle, so they are not counted down but
/// tried both ways: the descent runs once with them and once without. Greedy, not exhaustive: a report for an
/// operator, not an actuator. Each simulation is told to <paramref name="progress"/> as it ends: a catalogue of
/// hundreds of accelerators takes as many descent steps, each a simulation of the whole trace per hourly group, and
/// the commands printed nothing for the minutes that took.
/// </summary>
internal sealed class FleetPlanner(Workload.Workload workload, PolicyChoice policies, int seed, Action<string>? progress = null)
{
    public const double RequiredAttainment = 0.99;

    /// <summary>The most simulations of a trace a plan may take at worst unless told otherwise: the built-in catalogue
    /// takes at most 182 (48 done on the code trace), one of 16×H100 + 32×A100 + 64×L4 at most 692 (70 s of
    /// <c>autoscale</c>, 2026-12-07); hundreds of accelerators of several types, thousands, each a simulation of the whole
    /// trace (a 600-accelerator catalogue planned on a light 600-request trace in 43 s; the Azure traces were not timed).</summary>
    public const int DefaultMaxSimulations = 1_000;

    public sealed record Candidate(FleetSpec Fleet, RunSummary Summary)
    {
        public bool Meets => Summary.Attainment >= RequiredAttainment;

        /// <summary>Provisioned cost per hour of wall time: hourly prices plus the metered spend rate.</summary>
        public double CostPerHourUsd => Summary.ProvisionedCostUsd / Summary.MakespanSeconds * 3600;
    }

    /// <summary>The catalogue's maximum, the cheapest fleet found with and without the metered endpoints (null when
    /// even the maximum misses), and the cheapest fleet of each single hourly type that meets the objective.</summary>
    public sealed record Plan(Candidate Catalogue, Candidate? WithMetered, Candidate? WithoutMetered, IReadOnlyList<Candidate> SingleType, int Simulations)
    {
        public Candidate? Cheapest => new[] { WithMetered, WithoutMetered }.OfType<Candidate>().MinBy(c => c.CostPerHourUsd);
    }

    /// <summary>The most simulations <see cref="Run"/> can take on <paramref name="catalogue"/>: the maximum and the
    /// hourly-only start, two descents each of at most one step per hourly accelerator and one trial per hourly type
    /// a step, and a bisection of each hourly type's count. A light trace comes close: its descent goes down to one
    /// or two accelerators.</summary>
    public static long WorstCaseSimulations(FleetSpec catalogue)
    {
        var hourly = catalogue.Nodes.Where(n => n.Pricing == PricingMode.Hourly).Select(n => (long)n.Count).ToList();
        var descent = hourly.Count * hourly.Sum();
        return 2 + 2 * descent + hourly.Sum(count => (long)Math.Floor(Math.Log2(count)) + 1);
    }

    /// <summary>Refuses, before any simulation, a catalogue whose plan could take more than <paramref name="max"/>
    /// simulations of a trace: the descent removes one accelerator a step, so hundreds of them take thousands.
    /// <paramref name="given"/> says where the catalogue came from (the option and its file).</summary>
    public static void RequireWithin(FleetSpec catalogue, int max, string given, string maxOption)
    {
        var worst = WorstCaseSimulations(catalogue);
        if (worst > max)
        {
            var hourly = catalogue.Nodes.Where(n => n.Pricing == PricingMode.Hourly).ToList();
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                $"{given}: fleet planning removes one hourly accelerator a step, trying each type, so its {hourly.Sum(n => n.Count):#,0} hourly accelerators of {hourly.Count} types " +
                $"take up to {worst:#,0} simulations of each trace, more than {maxOption} ({max:#,0}) allows: give a catalogue of fewer accelerators, or raise {maxOption}"));
        }
    }

    private readonly Lock _progressLock = new();
    private int _simulations;

    public Plan Run(FleetSpec catalogue)
    {
        var maxima = catalogue.Nodes.Select(n => n.Count).ToArray();
        var hourly = catalogue.Nodes.Where(n => n.Pricing == PricingMode.Hourly).ToList();
        Tell(string.Create(CultureInfo.InvariantCulture, $"planning {workload.Name} ({workload.Requests.Count:#,0} requests) on the catalogue {catalogue.Name}: a descent from {hourly.Sum(n => n.Count):#,0} hourly accelerators, " +
            $"up to {hourly.Count} simulations of the trace for each one removed"));
        var start = Evaluate(catalogue, maxima);
        var withMetered = start.Meets ? Descend(catalogue, maxima, start) : null;
        var hourlyOnly = catalogue.Nodes.Select((n, i) => n.Pricing == PricingMode.Metered ? 0 : maxima[i]).ToArray();
        var hourlyStart = hourlyOnly.Sum() > 0 ? Evaluate(catalogue, hourlyOnly) : null;
        var withoutMetered = hourlyStart is { Meets: true } ? Descend(catalogue, hourlyOnly, hourlyStart) : null;
        var singles = catalogue.Nodes.Select((n, i) => n.Pricing == PricingMode.Hourly ? CheapestSingleType(catalogue, i) : null).OfType<Candidate>().ToList();
        return new Plan(start, withMetered, withoutMetered, singles, _simulations);
    }

    private Candidate Descend(FleetSpec catalogue, int[] counts, Candidate current)
    {
        while (true)
        {
            Candidate? next = null;
            int[]? nextCounts = null;
            var trials = Enumerable.Range(0, counts.Length).Where(i => counts[i] > 0 && catalogue.Nodes[i].Pricing == PricingMode.Hourly).AsParallel().AsOrdered().Select(i =>
            {
                var trial = (int[])counts.Clone();
                trial[i]--;
                return (trial, candidate: trial.Sum() == 0 ? null : Evaluate(catalogue, trial));
            }).ToList();
            foreach (var (trial, candidate) in trials)
            {
                if (candidate is { Meets: true } && (next is null || candidate.CostPerHourUsd < next.CostPerHourUsd))
                {
                    next = candidate;
                    nextCounts = trial;
                }
            }

            if (next is null)
            {
                return current;
            }

            current = next;
            counts = nextCounts!;
        }
    }

    /// <summary>The fewest accelerators of one type alone that meet the objective (the best single-type fleet to
    /// compare a mix against); null when even the catalogue's maximum of it does not.</summary>
    private Candidate? CheapestSingleType(FleetSpec catalogue, int type)
    {
        Candidate? found = null;
        int low = 1, high = catalogue.Nodes[type].Count;
        while (low <= high)
        {
            var mid = (low + high) / 2;
            var counts = new int[catalogue.Nodes.Count];
            counts[type] = mid;
            var candidate = Evaluate(catalogue, counts);
            if (candidate.Meets)
            {
                found = candidate;
                high = mid - 1;
            }
            else
            {
                low = mid + 1;
            }
        }

        return found;
    }

    private Candidate Evaluate(FleetSpec catalogue, int[] counts)
    {
        var number = Interlocked.Increment(ref _simulations);
        var fleet = catalogue.WithCounts(counts);
        var candidate = new Candidate(fleet, new Simulation(fleet, workload, policies, seed).Run().Summarize());
        Tell(string.Create(CultureInfo.InvariantCulture, $"planning {workload.Name}: simulation {number:#,0}, {fleet.Summary()}: attainment {Format.Pct(candidate.Summary.Attainment)}, ${Format.Usd(candidate.CostPerHourUsd)}/h"));
        return candidate;
    }

    // The descent's trials run in parallel: one line at a time.
    private void Tell(string line)
    {
        if (progress is null)
        {
            return;
        }

        lock (_progressLock)
        {
            progress(line);
        }
    }
}
