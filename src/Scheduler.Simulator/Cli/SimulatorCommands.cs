using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Scheduler.Simulator.Engine;
using Scheduler.Simulator.Fleet;
using Scheduler.Simulator.Metrics;
using Scheduler.Simulator.Reports;
using Scheduler.Simulator.Scenarios;
using Scheduler.Simulator.Workload;
using static Scheduler.Simulator.Cli.SimulatorOptions;

namespace Scheduler.Simulator.Cli;

/// <summary>
/// The simulator's command line (System.CommandLine, as schedctl): <c>run</c>, <c>matrix</c> and <c>flood</c>, with
/// help for every command and option. A bad option, fleet or trace file ends in one <c>error: …</c> line naming it and
/// exit code <see cref="BadInput"/>, never a stack trace or the help page.
/// </summary>
internal static class SimulatorCommands
{
    /// <summary>Exit code when the simulator failed while it ran: its output could not be written (one <c>error:</c> line
    /// naming the file, folder or stdout), or an unexpected error (told with its stack trace: a bug).</summary>
    public const int Failed = 1;

    /// <summary>Exit code of a usage or input error: an option that does not parse or is out of range, an input file
    /// missing or invalid, a catalogue too large to plan on.</summary>
    public const int BadInput = 2;

    /// <summary>Exit code of <c>run</c>, <c>flood</c> and <c>prefix</c> when some requests were refused or failed (they are listed or counted).</summary>
    public const int NotAllServed = 3;

    /// <summary>Exit code when the trace does not fit in the memory the process may use.</summary>
    public const int OutOfMemory = 4;

    /// <summary>Parses <paramref name="args"/> and runs the command they name; what does not parse is reported as every
    /// other bad input is — one <c>error: …</c> line each, exit code <see cref="BadInput"/> — not System.CommandLine's
    /// default of exit code 1 (that of a runtime failure) with the whole help page after the line that mattered.</summary>
    public static int Invoke(string[] args, InvocationConfiguration? configuration = null)
    {
        configuration ??= new InvocationConfiguration();
        var parse = Create().Parse(args);
        if (parse.Errors.Count == 0)
        {
            return parse.Invoke(configuration);
        }

        foreach (var error in parse.Errors)
        {
            configuration.Error.WriteLine(ErrorLine(error));
        }

        return BadInput;
    }

    /// <summary>A parse error as one line naming its option: System.CommandLine lists a choice's values one a line and
    /// names the value, not the option ("Argument 'cheapest' not recognized. Must be one of:").</summary>
    private static string ErrorLine(ParseError error)
    {
        var text = string.Join(' ', error.Message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
        var option = error.SymbolResult switch
        {
            OptionResult result => result.Option.Name,
            ArgumentResult { Parent: OptionResult result } => result.Option.Name,
            _ => null,
        };
        return option is null || text.Contains(option, StringComparison.Ordinal) ? $"error: {text}" : $"error: {option}: {text}";
    }

    public static RootCommand Create()
    {
        var root = new RootCommand($"Discrete-event simulator: replays LLM inference traces on a modelled fleet with the scheduler's own policies (see docs/benchmarks.md). Exit codes: {Failed} a failure while running (its output could not be written, or a bug), {BadInput} a bad option or input file, {NotAllServed} requests not served, {OutOfMemory} out of memory.");
        root.Add(FleetFile);
        root.Add(Traces);
        root.Add(Seed);
        root.Add(RunCommand());
        root.Add(MatrixCommand());
        root.Add(FloodCommand());
        root.Add(AutoscaleCommand());
        root.Add(PrefixCommand());
        return root;
    }

    private static Command RunCommand()
    {
        var command = new Command("run", $"Replay one trace with one policy choice and print its figures; exits {NotAllServed} when any request was refused or failed")
        {
            Trace, Rate, Placement, Fairness, Batching, MaxPreemptions, MaxDecodeDeferrals, ContendedPrefillTokens, ContendedPrefillWindowMs, WaitCost, PrefillMicroBatchTokens, SetAsideWithinClassAfterMs,
        };
        command.SetAction(parse => Guard(parse, (progress, output) =>
        {
            var fleet = Fleet(parse, FleetFile);
            var trace = parse.GetRequiredValue(Trace);
            var (name, path, option) = NamedTraces.Contains(trace)
                ? (trace, Path.Combine(parse.GetRequiredValue(Traces), new TraceScenario(trace, 1).FileName), Traces.Name)
                : (Path.GetFileNameWithoutExtension(trace), trace, Trace.Name);
            var read = TraceReader.Read(path, progress, option);
            output.WriteLine(read.Account.Line());
            var workload = TenantAssignment.FromTrace(name, read.Rows, parse.GetValue(Rate));
            var policies = new PolicyChoice(parse.GetRequiredValue(Placement), parse.GetRequiredValue(Fairness), parse.GetRequiredValue(Batching), parse.GetValue(MaxPreemptions), parse.GetValue(MaxDecodeDeferrals), parse.GetValue(ContendedPrefillTokens), parse.GetValue(ContendedPrefillWindowMs), WaitCostUsdPerSecond: parse.GetValue(WaitCost), PrefillMicroBatchTokens: parse.GetValue(PrefillMicroBatchTokens), SetAsideWithinClassAfterMs: parse.GetValue(SetAsideWithinClassAfterMs));
            var result = new Simulation(fleet, workload, policies, parse.GetValue(Seed)).Run();
            return Print(output, result);
        }));
        return command;
    }

    private static Command MatrixCommand()
    {
        var command = new Command("matrix", "Run the policy matrix on both traces, the saturation burst, the flood scenario and fleet planning (its simulations told on stderr); write results.md, results.csv and plots")
        {
            GpuFleet, Catalogue, MaxPlanSimulations, Out, CodeRate, ConvRate, BurstRequests, BurstRate, LightRate, FloodMultiplier, FloodSeconds, WaitCost,
        };
        command.SetAction(parse => Guard(parse, (_, _) =>
        {
            // Before the simulations: a folder that cannot be made would otherwise only fail once they have all run.
            OutputFolder(parse.GetRequiredValue(Out), Out.Name);
            var fleets = (Fleet(parse, FleetFile), Fleet(parse, GpuFleet), PlanningCatalogue(parse));
            new Scenarios.MatrixCommand(fleets.Item1, fleets.Item2, fleets.Item3, BenchmarkSettings.From(parse), parse.InvocationConfiguration.Error.WriteLine)
                .Run("dotnet run -c Release --project src/Scheduler.Simulator -- " + string.Join(' ', parse.Tokens.Select(t => t.Value)));
            return 0;
        }));
        return command;
    }

    private static Command FloodCommand()
    {
        var command = new Command("flood", $"Run the fairness scenario: a light tenant's p99 TTFT alone and under a flooding tenant, per fairness policy; exits {NotAllServed} when any request was refused or failed")
        {
            Placement, LightRate, FloodMultiplier, FloodSeconds, MaxPreemptions, MaxDecodeDeferrals, ContendedPrefillTokens, ContendedPrefillWindowMs, WaitCost, PrefillMicroBatchTokens, SetAsideWithinClassAfterMs,
        };
        command.SetAction(parse => Guard(parse, (progress, output) =>
        {
            var fleet = Fleet(parse, FleetFile);
            var sizes = TraceReader.Read(Path.Combine(parse.GetRequiredValue(Traces), "azure-llm-2023-conv.csv"), progress, Traces.Name).Rows;
            var choices = PolicyMatrix.Fairnesses.Select(f => PolicyMatrix.Default with { Placement = parse.GetRequiredValue(Placement), Fairness = f, MaxPreemptions = parse.GetValue(MaxPreemptions), MaxDecodeDeferrals = parse.GetValue(MaxDecodeDeferrals),
                ContendedPrefillTokens = parse.GetValue(ContendedPrefillTokens), ContendedPrefillWindowMs = parse.GetValue(ContendedPrefillWindowMs), WaitCostUsdPerSecond = parse.GetValue(WaitCost),
                PrefillMicroBatchTokens = parse.GetValue(PrefillMicroBatchTokens), SetAsideWithinClassAfterMs = parse.GetValue(SetAsideWithinClassAfterMs) });
            var flood = Flood(parse);
            progress.Generating(
                string.Create(CultureInfo.InvariantCulture, $"the flood scenario's arrivals (about {flood.LightRate * (1 + flood.FloodMultiplier) * flood.DurationSeconds:#,0} requests flooded and {flood.LightRate * flood.DurationSeconds:#,0} alone, replayed with each of {PolicyMatrix.Fairnesses.Length} fairness policies at once)"),
                $"lower {LightRate.Name}, {FloodMultiplier.Name} or {FloodSeconds.Name}");
            var outcomes = FloodScenario.Run(fleet, sizes, flood, choices);
            foreach (var outcome in outcomes)
            {
                // A run that served the light tenant nothing has no p99 (a dash) and the two no ratio: said, not NaN.
                var ratio = outcome.LightServed ? Format.Num(outcome.Ratio, "0.00") : "— (the light tenant had no request served in one run or both)";
                output.WriteLine(
                    $"{outcome.Policies.Label}: light p99 alone {Format.Ms(outcome.LightP99AloneMs)} ms, flooded {Format.Ms(outcome.LightP99FloodedMs)} ms, ratio {ratio}; {outcome.UnservedText}; {outcome.Flooded.Fairness}; preempted {outcome.Flooded.Preempted}; " +
                    $"flooded TPOT p50 {Format.Ms(outcome.Flooded.TpotP50Ms)} ms, p99 {Format.Ms(outcome.Flooded.TpotP99Ms)} ms");
            }

            return outcomes.Any(o => o.Unserved > 0) ? NotAllServed : 0;
        }));
        return command;
    }

    private static Command AutoscaleCommand()
    {
        var command = new Command("autoscale", "Replay both traces on pools that scale with the capacity policy; print the provisioned cost next to the static fleet and the fleet planner's best static mix (its simulations, one per accelerator removed per hourly group of --catalogue, are told on stderr)")
        {
            Catalogue, MaxPlanSimulations, CodeRate, ConvRate, ColdStartSeconds, ScaleDownSeconds, PeakLookbackSeconds, WaitCost,
        };
        command.SetAction(parse => Guard(parse, (_, output) =>
        {
            var fleet = Fleet(parse, FleetFile);
            var catalogue = PlanningCatalogue(parse);
            var autoscale = Autoscale(parse);
            TraceScenario[] traces = [new("code", parse.GetValue(CodeRate)), new("conv", parse.GetValue(ConvRate))];
            var outcomes = AutoscaleScenario.Run(fleet, catalogue, parse.GetRequiredValue(Traces), traces, parse.GetValue(Seed), autoscale, parse.GetValue(WaitCost), parse.InvocationConfiguration.Error.WriteLine);
            output.Write(AutoscaleScenario.Markdown(fleet, catalogue, autoscale, outcomes));
            return 0;
        }));
        return command;
    }

    private static Command PrefixCommand()
    {
        var command = new Command("prefix", $"Replay the prefix-sharing workloads (multi-turn chats, shared system prompts, agent loops), or a KV-cache trace, with every placement; print hit rate against the oracle's, TTFT, attainment and cost; exits {NotAllServed} when any request was refused or failed")
        {
            KvTrace, PrefixRate, PrefixSeed, SystemPrompts, PrefixPlacements, PrefixWorkloadNames, WriteKvTraces, MaxPreemptions, EngineCacheShare, CacheEvents, WaitCost, SessionWaitCost,
        };
        // A KV-cache trace replaces the built-in workloads, so options choosing or seeding them would be ignored (the
        // seed still seeds the workloads --write-kv-traces writes).
        command.Validators.Add(result =>
        {
            if (result.GetResult(KvTrace) is null)
            {
                return;
            }

            if (result.GetResult(PrefixWorkloadNames) is { Implicit: false })
            {
                result.AddError($"{PrefixWorkloadNames.Name} chooses built-in workloads; {KvTrace.Name} replays a trace instead of them. Give one or the other.");
            }

            foreach (var shaping in new Option[] { PrefixSeed, SystemPrompts })
            {
                if (result.GetResult(shaping) is { Implicit: false } && result.GetResult(WriteKvTraces) is null)
                {
                    result.AddError($"{shaping.Name} shapes the built-in workloads, which {KvTrace.Name} replaces (it is kept only with {WriteKvTraces.Name}).");
                }
            }
        });
        command.SetAction(parse => Guard(parse, (progress, output) =>
        {
            var fleet = Fleet(parse, FleetFile);
            var rate = parse.GetValue(PrefixRate);
            var settings = new PrefixWorkloadSettings { Seed = parse.GetValue(PrefixSeed), SystemPromptTenants = parse.GetValue(SystemPrompts) };
            var kvFolder = parse.GetValue(WriteKvTraces);
            if (kvFolder is not null)
            {
                OutputFolder(kvFolder, WriteKvTraces.Name);
            }

            var read = parse.GetValue(KvTrace) is { } path ? KvTraceReader.Read(path, progress) : null;
            if (read is not null)
            {
                output.WriteLine(read.Account.Line());
            }

            List<Workload.Workload> workloads = read is not null
                ? [PrefixWorkloads.ToWorkload(Path.GetFileNameWithoutExtension(read.Account.Source), read.Rows, rate)]
                : [.. parse.GetRequiredValue(PrefixWorkloadNames).Distinct().Select(name => PrefixWorkloads.ToWorkload(name, PrefixWorkloads.Rows(name, settings), rate, PrefixWorkloads.NamesSessions(name)))];
            if (kvFolder is not null)
            {
                foreach (var name in PrefixWorkloads.Names)
                {
                    var file = Path.Combine(kvFolder, $"{name}.jsonl");
                    OutputWriteException.Around(file, () => KvTraceReader.Write(file, PrefixWorkloads.Rows(name, settings)));
                }
            }

            var engineCache = new EngineCacheModel(parse.GetValue(EngineCacheShare), parse.GetValue(CacheEvents));
            var outcomes = PrefixScenario.Run(
                fleet, workloads, parse.GetValue(Seed), parse.GetValue(MaxPreemptions), parse.GetRequiredValue(PrefixPlacements).Distinct().ToList(), engineCache,
                parse.GetValue(WaitCost), parse.GetValue(SessionWaitCost));
            output.Write(PrefixScenario.Markdown(fleet, outcomes));
            return outcomes.Any(o => o.Unserved > 0) ? NotAllServed : 0;
        }));
        return command;
    }

    /// <summary>Prints a run's figures and every request it did not serve; the exit code says whether there was one.</summary>
    internal static int Print(TextWriter output, RunResult result)
    {
        // A failed request never had a first token: attainment counts it as missed, and so does this line (it read
        // "missed TTFT objective: 0" above "attainment 0.00%" when every request failed). Refused ones are in neither.
        var missed = result.Finished.Where(s => !s.MetObjective).ToList();
        var failed = result.Unserved.Count(s => s.Unserved != Engine.Unserved.OverContext);
        var byProduct = missed.Count == 0 ? "none" : string.Join(", ", missed.GroupBy(s => s.Product).Select(g => $"{g.Key} {g.Count()}"));
        output.WriteLine($"missed TTFT objective: {missed.Count + failed} (of which {(failed == 0 ? "" : $"failed, never served: {failed}; ")}queued before admission: {missed.Count(s => s.AdmittedMs > s.Request.ArrivalMs)}; " +
            $"by accelerator: {byProduct})");
        output.WriteLine(result.Summarize());
        foreach (var line in Engine.UnservedText.Lines(result.Unserved, result.Fleet))
        {
            output.WriteLine(line);
        }

        return result.Unserved.Count == 0 ? 0 : NotAllServed;
    }

    private static FleetSpec Fleet(ParseResult parse, Option<string> option) => FleetSpec.Load(parse.GetRequiredValue(option), option.Name);

    /// <summary>The <c>--catalogue</c> fleet, refused when planning on it could take more simulations than allowed.</summary>
    private static FleetSpec PlanningCatalogue(ParseResult parse)
    {
        var catalogue = Fleet(parse, Catalogue);
        Planning.FleetPlanner.RequireWithin(catalogue, parse.GetValue(MaxPlanSimulations), $"{Catalogue.Name} {parse.GetRequiredValue(Catalogue)}", MaxPlanSimulations.Name);
        return catalogue;
    }

    /// <summary>Makes the folder <paramref name="option"/> gives, and checks a file can be written in it, before any
    /// simulation: one that cannot be made, or written to (a read-only mount, a folder of another user's), would
    /// otherwise fail only once they have run (or, an empty one, in the runtime's stack trace).</summary>
    private static void OutputFolder(string path, string option)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new InvalidDataException($"{option}: no folder given");
        }

        try
        {
            Directory.CreateDirectory(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new InvalidDataException($"{option} {path}: cannot be made a folder ({e.Message})", e);
        }

        try
        {
            // Deleted as it closes: nothing is left behind, whatever the folder held.
            using var probe = new FileStream(Path.Combine(path, $".write-check-{Guid.NewGuid():N}"), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"{option} {path}: cannot be written to ({e.Message})", e);
        }
    }

    /// <summary>Runs a command's <paramref name="action"/>, given its stdout, and turns what fails into one
    /// <c>error:</c> line and the exit code that says whose it is.</summary>
    private static int Guard(ParseResult parse, Func<TraceProgress, TextWriter, int> action)
    {
        var progress = new TraceProgress();
        try
        {
            using var stdout = new StdoutWriter(() => parse.InvocationConfiguration.Output);
            return action(progress, stdout);
        }
        catch (OutputWriteException e)
        {
            parse.InvocationConfiguration.Error.WriteLine($"error: {e.Message}");
            return Failed;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            // FileNotFoundException and DirectoryNotFoundException are IOExceptions; the readers turn every bad row or
            // field into an InvalidDataException naming the file, the line and the field.
            parse.InvocationConfiguration.Error.WriteLine($"error: {e.Message}");
            return BadInput;
        }
        catch (OutOfMemoryException)
        {
            // The simulator holds every request and its outcome (the percentiles need them all): a trace too long for
            // the memory the process may use ends here, in words, rather than in the runtime's stack trace. The figures
            // are measured (docs/benchmarks.md, "Memory and time"). By now the work's objects are unreachable, so
            // the line can be written.
            parse.InvocationConfiguration.Error.WriteLine(OutOfMemoryLine(progress, parse.GetValue(FleetFile), GC.GetGCMemoryInfo().TotalAvailableMemoryBytes));
            return OutOfMemory;
        }
    }

    /// <summary>The one line an out-of-memory error prints: where it was (the trace file and the lines read of it, or
    /// the trace and fleet it was replaying), what the simulator needs, and what to do.</summary>
    internal static string OutOfMemoryLine(TraceProgress progress, string? fleet, long availableBytes)
    {
        var where = progress switch
        {
            { Path: null } => "",
            { ReadWhole: false } => $" reading {progress.Path} at its line {progress.Lines:#,0}",
            { Generated: { } generated } => $" replaying {generated.What} on the fleet {fleet}",
            _ => $" replaying {progress.Path} (all its {progress.Lines:#,0} lines read) on the fleet {fleet}",
        };

        // Half of what it had read: a concrete command to start from (a replay needs more memory a row than reading).
        // Requests the command made itself are made fewer by its own options: a shorter trace would change nothing.
        var fewer = progress switch
        {
            { Path: null } => "replay a part of the trace, replay fewer placements (prefix --prefix-placements)",
            { ReadWhole: true, Generated: { } generated } => generated.Fewer,
            _ => $"replay fewer of its rows (head -n {progress.Lines / 2:#0} '{progress.Path}' > part{Path.GetExtension(progress.Path)} keeps its first half), replay fewer placements (prefix --prefix-placements)",
        };
        return string.Create(CultureInfo.InvariantCulture,
            $"error: out of memory{where}: the simulator keeps every request and its outcome in memory, for all its runs at once (run: about 430 bytes a request, 2.15 GB for 5,000,000; prefix --kv-trace: about 2 KB a request for one placement, 6 KB for all six), and this process may use {availableBytes / 1e6:#,0} MB; {fewer}, or give the process more memory");
    }
}
