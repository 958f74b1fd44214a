using Scheduler.Simulator;
using Scheduler.Simulator.Fleet;
using Scheduler.Simulator.Scenarios;
using Scheduler.Simulator.Workload;

var arguments = CommandLine.Parse(args);
var fleet = FleetSpec.Load(arguments.Get("fleet", "sim/fleets/hetero.json"));
var traces = arguments.Get("traces", "../shared/traces");
switch (arguments.Command)
{
    case "run":
    {
        var trace = arguments.Get("trace", "conv");
        var workload = TenantAssignment.FromTrace(trace, TraceReader.Read(Path.Combine(traces, $"azure-llm-2023-{trace}.csv")), arguments.GetDouble("rate", 1));
        var policies = new PolicyChoice(arguments.Get("placement", "cost-aware"), arguments.Get("fairness", "weighted-fair"), arguments.Get("batching", "continuous"));
        var result = new Simulation(fleet, workload, policies, arguments.GetInt("seed", 1)).Run();
        var missed = result.Finished.Where(s => !s.MetObjective).ToList();
        Console.WriteLine($"missed TTFT objective: {missed.Count} (of which queued before admission: {missed.Count(s => s.AdmittedMs > s.Request.ArrivalMs)}; " +
            $"by accelerator: {string.Join(", ", missed.GroupBy(s => s.Product).Select(g => $"{g.Key} {g.Count()}"))})");
        Console.WriteLine(result.Summarize());
        break;
    }

    case "matrix":
        new MatrixCommand(fleet, FleetSpec.Load(arguments.Get("gpu-fleet", "sim/fleets/gpu-only.json")), FleetSpec.Load(arguments.Get("catalogue", "sim/fleets/catalogue.json")), BenchmarkSettings.From(arguments))
            .Run("dotnet run -c Release --project src/Scheduler.Simulator -- " + string.Join(' ', args));
        break;

    case "flood":
    {
        var settings = BenchmarkSettings.From(arguments);
        var sizes = TraceReader.Read(Path.Combine(traces, "azure-llm-2023-conv.csv"));
        var choices = PolicyMatrix.Fairnesses.Select(f => PolicyMatrix.Default with { Placement = arguments.Get("placement", PolicyMatrix.Default.Placement), Fairness = f });
        foreach (var outcome in FloodScenario.Run(fleet, sizes, settings.Flood, choices))
        {
            Console.WriteLine($"{outcome.Policies.Label}: light p99 alone {outcome.LightP99AloneMs:0} ms, flooded {outcome.LightP99FloodedMs:0} ms, ratio {outcome.Ratio:0.00}; {outcome.Flooded.Fairness}");
        }

        break;
    }

    default:
        Console.Error.WriteLine("usage: Scheduler.Simulator matrix|run|flood [--fleet file] [--traces dir] [--out dir] ... (see docs/benchmarks.md)");
        return 2;
}

return 0;
