using Scheduler.Simulator;
using Scheduler.Simulator.Fleet;
using Scheduler.Simulator.Metrics;
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
        var summary = new Simulation(fleet, workload, policies, arguments.GetInt("seed", 1)).Run().Summarize();
        Console.WriteLine(summary);
        break;
    }

    default:
        Console.Error.WriteLine("usage: Scheduler.Simulator run|matrix|plan [--fleet file] [--traces dir] [--out dir] ...");
        return 2;
}

return 0;
