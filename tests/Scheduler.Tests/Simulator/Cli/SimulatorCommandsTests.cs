using System.Text.Json;
using System.CommandLine;
using System.Text.RegularExpressions;
using Scheduler.Simulator.Cli;
using Scheduler.Simulator.Scenarios;
using Scheduler.Simulator.Workload;

namespace Scheduler.Tests.Simulator.Cli;

public sealed class SimulatorCommandsTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("sim-cli-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void Help_OnTheRootAndEveryCommand_ExitsZero_AndEveryOptionIsDescribed()
    {
        var root = SimulatorCommands.Create();
        string[][] invocations = [["--help"], .. root.Subcommands.Select(c => new[] { c.Name, "--help" })];

        foreach (var args in invocations)
        {
            var (code, output, error) = Invoke(args);
            Assert.True(code == 0, $"{string.Join(' ', args)} exited {code}: {error}");
            Assert.Contains("Usage:", output, StringComparison.Ordinal);
        }

        Assert.Equal(["run", "matrix", "flood", "autoscale", "prefix"], root.Subcommands.Select(c => c.Name));
        Assert.All(root.Subcommands.SelectMany(c => c.Options).Concat(root.Options), o => Assert.False(string.IsNullOrWhiteSpace(o.Description), o.Name));
    }

    [Fact]
    public void Run_MissingFleetFile_PrintsOneErrorLine_AndExitsBadInput()
    {
        var (code, _, error) = Invoke(["run", "--fleet", Path.Combine(_folder, "missing.json")]);

        Assert.Equal(SimulatorCommands.BadInput, code);
        Assert.StartsWith("error: ", error, StringComparison.Ordinal);
        Assert.Contains("missing.json", error, StringComparison.Ordinal);
        Assert.DoesNotContain(" at ", error, StringComparison.Ordinal); // no stack trace
    }

    [Theory]
    [InlineData("--trace", "missing.csv")]
    [InlineData("--fleet", "missing.json")]
    [InlineData("--rate", "fast")]
    public async Task Run_AMissingFileOrBadOption_ExitsBadInput_WithOneLineNamingTheOption_AsAProcess(string option, string value)
    {
        // A missing --trace exited 1 (a parse error) and a missing --fleet 2 (a bad input file): one kind of mistake,
        // two codes. Run as the built simulator, through its Program.
        var info = new System.Diagnostics.ProcessStartInfo("dotnet") { WorkingDirectory = EndToEnd.RepoPaths.Root };
        foreach (var arg in new[] { EndToEnd.RepoPaths.Assembly("Scheduler.Simulator"), "run", option, Path.Combine(_folder, value) })
        {
            info.ArgumentList.Add(arg);
        }

        var (code, output, error) = await EndToEnd.BoundedProcess.RunAsync(info, TimeSpan.FromSeconds(30));

        Assert.True(code == SimulatorCommands.BadInput, $"exited {code}: {error}");
        Assert.Equal("", output);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.Contains(option, line, StringComparison.Ordinal);
    }

    [Fact]
    public void AFailureWhileRunning_ExitsFailed_NotBadInput()
    {
        // A failure that is no bad input (here the output refusing to be written) is the simulator's own: exit 1, with
        // what failed, never the code that tells the user to fix an option or a file.
        var (code, error) = RunOneRequestWritingTo(new ThrowingWriter(() => new InvalidOperationException("the output refuses to be written")));

        Assert.Equal(SimulatorCommands.Failed, code);
        Assert.Contains("the output refuses", error, StringComparison.Ordinal);
    }

    [Fact]
    public void StdoutFailingToBeWritten_IsAFailureWhileRunning_NamingStdout_NotBadInput()
    {
        // stdout on a full disk read "error: No space left on device" and exit code 2, as a wrong option or input file.
        var (code, error) = RunOneRequestWritingTo(new ThrowingWriter(() => new IOException("No space left on device")));

        Assert.Equal(SimulatorCommands.Failed, code);
        Assert.Equal("error: writing the output to stdout: No space left on device", error.Trim());
    }

    [Theory]
    [InlineData("/dev/full", "No space left on device")]
    [InlineData("&-", "")]
    public async Task StdoutOnAFullDiskOrClosed_ExitsFailed_WithOneLineNamingStdout_AsAProcess(string redirect, string reason)
    {
        // Measured before, the built simulator in a shell: `> /dev/full` exit 2 "error: No space left on device",
        // `>&-` exit 2 "error: Access to the path is denied.". (`| head -1` exits 0: .NET drops writes to a pipe nobody reads.)
        File.WriteAllText(Path.Combine(_folder, "fleet.json"), """{ "name": "one-l4", "nodes": [ { "product": "L4", "count": 1, "pricing": "hourly" } ] }""");
        File.WriteAllText(Path.Combine(_folder, "trace.csv"), "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00,200,10\n");
        var info = new System.Diagnostics.ProcessStartInfo("sh") { WorkingDirectory = _folder };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add($"exec dotnet '{EndToEnd.RepoPaths.Assembly("Scheduler.Simulator")}' run --trace trace.csv --fleet fleet.json >{redirect}");

        var (code, _, error) = await EndToEnd.BoundedProcess.RunAsync(info, TimeSpan.FromSeconds(30));

        Assert.True(code == SimulatorCommands.Failed, $"exited {code}: {error}");
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: writing the output to stdout: ", line, StringComparison.Ordinal);
        Assert.Contains(reason, line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("matrix --out /sys", "error: --out /sys: cannot be written to (")]
    [InlineData("prefix --prefix-placements round-robin --prefix-workloads agent --write-kv-traces /sys", "error: --write-kv-traces /sys: cannot be written to (")]
    public void AnOutputFolderThatCannotBeWrittenTo_IsABadOptionNamingIt_BeforeAnySimulation(string command, string message)
    {
        // /sys: a folder that exists and refuses new files, root or not. matrix wrote nothing until every simulation had
        // run (here it would stop at the missing fleet first); prefix failed at its first trace file, "error: Access to the
        // path '/sys/multi-turn.jsonl' is denied." naming no option.
        File.WriteAllText(Path.Combine(_folder, "fleet.json"), """{ "name": "one-l4", "nodes": [ { "product": "L4", "count": 1, "pricing": "hourly" } ] }""");
        var fleet = command.StartsWith("matrix", StringComparison.Ordinal) ? Path.Combine(_folder, "missing.json") : Path.Combine(_folder, "fleet.json");

        var (code, output, error) = Invoke([.. command.Split(' '), "--fleet", fleet]);

        Assert.True(code == SimulatorCommands.BadInput, $"exited {code}: {error}");
        Assert.StartsWith(message, error, StringComparison.Ordinal);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal("", output);
    }

    [Fact]
    public void AnOutputFileFailingToBeWritten_IsAFailureWhileRunning_NamingIt()
    {
        // The folder takes files, but one of them cannot be written (a folder in its place: as a full disk would, after the
        // check of the folder). It was exit code 2, "error: Access to the path '…' is denied.".
        File.WriteAllText(Path.Combine(_folder, "fleet.json"), """{ "name": "one-l4", "nodes": [ { "product": "L4", "count": 1, "pricing": "hourly" } ] }""");
        var kv = Path.Combine(_folder, "kv");
        var blocked = Path.Combine(kv, "system-prompt.jsonl");
        Directory.CreateDirectory(blocked);

        var (code, _, error) = Invoke(["prefix", "--fleet", Path.Combine(_folder, "fleet.json"), "--prefix-placements", "round-robin", "--prefix-workloads", "agent", "--write-kv-traces", kv]);

        Assert.True(code == SimulatorCommands.Failed, $"exited {code}: {error}");
        Assert.StartsWith($"error: writing {blocked}: ", error, StringComparison.Ordinal);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task Autoscale_OnACatalogueOfHundredsOfAccelerators_IsRefusedBeforeAnySimulation_NamingTheLimit()
    {
        // 200 each of H100, A100 and L4: up to 3,626 simulations of each trace (this 600-request trace took 43 s without the
        // limit, a simulation of it a few milliseconds; one of an Azure trace takes far longer).
        WriteTracesAndOneL4Fleet([.. Enumerable.Range(0, 600).Select(i => $"2023-11-16 18:{i / 60:00}:{i % 60:00},{200 + i},{10 + (i % 20)}")]);
        var catalogue = Path.Combine(_folder, "big.json");
        File.WriteAllText(catalogue, """
            { "name": "big", "nodes": [
              { "product": "H100", "count": 200, "pricing": "hourly" }, { "product": "A100", "count": 200, "pricing": "hourly" },
              { "product": "L4", "count": 200, "pricing": "hourly" } ] }
            """);
        var info = new System.Diagnostics.ProcessStartInfo("dotnet") { WorkingDirectory = EndToEnd.RepoPaths.Root };
        foreach (var arg in new[] { EndToEnd.RepoPaths.Assembly("Scheduler.Simulator"), "autoscale", "--fleet", Path.Combine(_folder, "fleet.json"), "--catalogue", catalogue, "--traces", _folder })
        {
            info.ArgumentList.Add(arg);
        }

        var (code, output, error) = await EndToEnd.BoundedProcess.RunAsync(info, TimeSpan.FromSeconds(45));

        Assert.True(code == SimulatorCommands.BadInput, $"exited {code}: {error}");
        Assert.Equal("", output);
        Assert.Equal(
            $"error: --catalogue {catalogue}: fleet planning removes one hourly accelerator a step, trying each type, so its 600 hourly accelerators of 3 types take up to 3,626 simulations " +
            "of each trace, more than --max-plan-simulations (1,000) allows: give a catalogue of fewer accelerators, or raise --max-plan-simulations",
            error.Trim());
    }

    [Fact]
    public void Autoscale_WithinARaisedLimit_Plans()
    {
        // The limit is the option's: raised past the catalogue's worst case, the same catalogue is planned on.
        WriteTracesAndOneL4Fleet(["2023-11-16 18:00:00,200,10"]);
        File.WriteAllText(Path.Combine(_folder, "cat.json"), """{ "name": "cat", "nodes": [ { "product": "L4", "count": 3, "pricing": "hourly" } ] }""");
        string[] args = ["autoscale", "--fleet", Path.Combine(_folder, "fleet.json"), "--catalogue", Path.Combine(_folder, "cat.json"), "--traces", _folder];

        // One type of 3: 2 + 2 × 3 + 2 = 10 simulations at worst.
        var refused = Invoke([.. args, "--max-plan-simulations", "9"]);
        var planned = Invoke([.. args, "--max-plan-simulations", "10"]);

        Assert.Equal(SimulatorCommands.BadInput, refused.Code);
        Assert.Contains("take up to 10 simulations of each trace, more than --max-plan-simulations (9) allows", refused.Error, StringComparison.Ordinal);
        Assert.True(planned.Code == 0, planned.Error);
        Assert.Contains("planner's best static: 1×L4", planned.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Autoscale_TellsEachOfThePlannersSimulationsOnStderr()
    {
        // A catalogue of hundreds of accelerators takes a descent step, a simulation of the trace per hourly group, for
        // each one removed: minutes to hours, and autoscale and matrix printed nothing meanwhile.
        WriteTracesAndOneL4Fleet(["2023-11-16 18:00:00,200,10", "2023-11-16 18:00:01,300,5", "2023-11-16 18:00:02,100,20"]);
        File.WriteAllText(Path.Combine(_folder, "cat.json"), """
            { "name": "cat", "nodes": [ { "product": "H100", "count": 1, "pricing": "hourly" }, { "product": "L4", "count": 1, "pricing": "hourly" } ] }
            """);

        var (code, output, error) = Invoke(["autoscale", "--fleet", Path.Combine(_folder, "fleet.json"), "--catalogue", Path.Combine(_folder, "cat.json"), "--traces", _folder]);

        Assert.True(code == 0, error);
        var lines = error.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("planning code (3 requests) on the catalogue cat: a descent from 2 hourly accelerators, up to 2 simulations of the trace for each one removed", lines[0]);
        Assert.Equal("planning code: simulation 1, 1×H100 + 1×L4: attainment 100.00%, $13.10/h", lines[1]);
        Assert.Contains("planning conv (3 requests) on the catalogue cat: ", error, StringComparison.Ordinal);
        Assert.All(lines, l => Assert.StartsWith("planning ", l, StringComparison.Ordinal));
        Assert.DoesNotContain("planning ", output, StringComparison.Ordinal);
        Assert.Contains("planner's best static: 1×L4", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_TraceGivenAsAFolder_IsAParseErrorSayingSo()
    {
        var (code, _, error) = Invoke(["run", "--trace", _folder]);

        // It said "(no such file)" of a folder that exists.
        Assert.Equal(SimulatorCommands.BadInput, code);
        Assert.Contains($"not '{_folder}' (a folder, not a file).", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_EveryRequestFailed_CountsThemAsMissed_AndPrintsNoNaN()
    {
        // One L4 whose KV cache holds 100 tokens: neither request fits, both fail. The first line read "missed TTFT
        // objective: 0 (… by accelerator: )" above "attainment 0.00%", and the energy "NaN J/output token".
        File.WriteAllText(Path.Combine(_folder, "fleet.json"), """
            { "name": "tiny-kv", "nodes": [ { "product": "L4", "count": 1, "pricing": "hourly", "kvCapacityTokens": 100 } ] }
            """);
        var trace = Path.Combine(_folder, "two.csv");
        File.WriteAllText(trace, """
            TIMESTAMP,ContextTokens,GeneratedTokens
            2023-11-16 18:00:00,200,10
            2023-11-16 18:00:01,300,5
            """);

        var (code, output, error) = Invoke(["run", "--trace", trace, "--fleet", Path.Combine(_folder, "fleet.json")]);

        Assert.True(code == SimulatorCommands.NotAllServed, error);
        Assert.Contains("missed TTFT objective: 2 (of which failed, never served: 2; queued before admission: 0; by accelerator: none)", output, StringComparison.Ordinal);
        Assert.Contains("attainment 0.00%", output, StringComparison.Ordinal);
        Assert.Contains("— J/output token", output, StringComparison.Ordinal);
        Assert.DoesNotContain("NaN", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_ATraceWithUnservableRequests_ReportsThemAndExitsNotAllServed()
    {
        // Four requests on one L4 (60,000 KV tokens) under a 65,000-token context: code-1 is over the context,
        // code-2 within it but larger than the KV cache.
        File.WriteAllText(Path.Combine(_folder, "fleet.json"), """
            { "name": "one-l4", "maxContextTokens": 65000, "nodes": [ { "product": "L4", "count": 1, "pricing": "hourly" } ] }
            """);
        File.WriteAllText(Path.Combine(_folder, "azure-llm-2023-code.csv"), """
            TIMESTAMP,ContextTokens,GeneratedTokens
            2023-11-16 18:00:00.0000000,200,10
            2023-11-16 18:00:00.1000000,64000,1100
            2023-11-16 18:00:00.2000000,61000,1
            2023-11-16 18:00:00.3000000,300,5
            """);

        var (code, output, _) = Invoke(["run", "--trace", "code", "--fleet", Path.Combine(_folder, "fleet.json"), "--traces", _folder]);

        Assert.Equal(SimulatorCommands.NotAllServed, code);
        Assert.Contains("jobs served 2, refused over the model's context 1, failed 1", output, StringComparison.Ordinal);
        Assert.Contains("refused: prompt + output over the model's context of 65,000 tokens: 1 — code-1 (64000+1100 tokens)", output, StringComparison.Ordinal);
        Assert.Contains("failed: larger than every replica's KV cache", output, StringComparison.Ordinal);
        Assert.Contains("utilisation L4 ", output, StringComparison.Ordinal);
        Assert.Contains("attainment 66.67%", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_TraceGivenByPath_ReplaysThatFile_NamedAfterIt()
    {
        // A trace of one's own (here in the 2024 release's timestamps) rather than one of the two named ones.
        var trace = Path.Combine(_folder, "week.csv");
        File.WriteAllText(trace, """
            TIMESTAMP,ContextTokens,GeneratedTokens
            2024-05-10 00:00:00.009930+00:00,200,10
            2024-05-10 00:00:01+00:00,300,5
            2024-05-10 00:00:01.250000+00:00,100,20
            """);

        File.WriteAllText(Path.Combine(_folder, "fleet.json"), """
            { "name": "one-l4", "nodes": [ { "product": "L4", "count": 1, "pricing": "hourly" } ] }
            """);

        var (code, output, error) = Invoke(["run", "--trace", trace, "--fleet", Path.Combine(_folder, "fleet.json")]);

        Assert.True(code == 0, error);
        Assert.Contains("workload week, policies cost-aware / continuous / weighted-fair", output, StringComparison.Ordinal);
        Assert.Contains("jobs served 3, refused over the model's context 0, failed 0", output, StringComparison.Ordinal);
        Assert.Contains("tokens in 600 / out 35", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_ATraceFile_SaysWhatItRead_BeforeItsFigures()
    {
        var trace = Path.Combine(_folder, "mine.csv");
        File.WriteAllText(trace, "TIMESTAMP,ContextTokens,GeneratedTokens\r\n2023-11-16 18:00:01,200,10\r\n2023-11-16 18:00:00.5,300,5\r\n\r\n");
        File.WriteAllText(Path.Combine(_folder, "fleet.json"), """
            { "name": "one-l4", "nodes": [ { "product": "L4", "count": 1, "pricing": "hourly" } ] }
            """);

        var (code, output, error) = Invoke(["run", "--trace", trace, "--fleet", Path.Combine(_folder, "fleet.json")]);

        Assert.True(code == 0, error);
        Assert.Equal(
            $"read {trace} (Azure LLM inference): 2 requests, skipped 1 blank lines, 1 rows out of time order (replayed in time order); " +
            "spans 0.5 s, from '2023-11-16 18:00:00.5' (line 3) to '2023-11-16 18:00:01' (line 2)",
            output.Split(Environment.NewLine)[0]);
    }

    [Fact]
    public void Run_ABurstGptTrace_ReplaysItsRequests_AndCountsItsFailedRowsAsSkipped()
    {
        var trace = Path.Combine(_folder, "BurstGPT_1.csv");
        File.WriteAllText(trace, """
            Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type
            5,ChatGPT,472,18,490,Conversation log
            45,ChatGPT,1087,0,1087,Conversation log
            118,GPT-4,417,276,693,API log
            """);
        File.WriteAllText(Path.Combine(_folder, "fleet.json"), """
            { "name": "one-l4", "nodes": [ { "product": "L4", "count": 1, "pricing": "hourly" } ] }
            """);

        var (code, output, error) = Invoke(["run", "--trace", trace, "--fleet", Path.Combine(_folder, "fleet.json")]);

        Assert.True(code == 0, error);
        Assert.Contains("(BurstGPT): 2 requests, skipped 1 failed requests (Response tokens 0), in time order; spans 113 s", output, StringComparison.Ordinal);
        Assert.Contains("jobs served 2, refused over the model's context 0, failed 0", output, StringComparison.Ordinal);
        Assert.Contains("tokens in 889 / out 294", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_ATraceLargerThanTheMemoryItMayUse_SaysSoInOneLine_AndExitsOutOfMemory()
    {
        // 300,000 requests need about 130 MB; the process may use 64 MB. It ran out with the runtime's stack trace.
        var trace = Path.Combine(_folder, "long.csv");
        var start = new DateTime(2024, 5, 10, 0, 0, 0, DateTimeKind.Utc);
        File.WriteAllLines(trace, ["TIMESTAMP,ContextTokens,GeneratedTokens", .. Enumerable.Range(0, 300_000).Select(i => $"{start.AddMilliseconds(i * 100):yyyy-MM-dd HH:mm:ss.fff},{100 + (i % 900)},{1 + (i % 50)}")]);
        var info = new System.Diagnostics.ProcessStartInfo("dotnet") { WorkingDirectory = EndToEnd.RepoPaths.Root };
        foreach (var arg in new[] { EndToEnd.RepoPaths.Assembly("Scheduler.Simulator"), "run", "--trace", trace })
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["DOTNET_GCHeapHardLimit"] = "0x4000000";

        var (code, _, error) = await EndToEnd.BoundedProcess.RunAsync(info, TimeSpan.FromMinutes(2));

        // It named no file: now the trace, and how far it read it (its end, when it ran out replaying it).
        Assert.Equal(SimulatorCommands.OutOfMemory, code);
        Assert.Matches(
            $@"^error: out of memory (reading {Regex.Escape(trace)} at its line [0-9,]+|replaying {Regex.Escape(trace)} \(all its 300,001 lines read\) on the fleet sim/fleets/hetero.json): " +
            "the simulator keeps every request and its outcome in memory",
            error);
        Assert.Contains($"head -n ", error, StringComparison.Ordinal);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task Flood_ArrivalsLargerThanTheMemoryItMayUse_SayWhichOptionsMakeFewer()
    {
        // The flood makes its own requests (light rate × (1 + multiplier) × seconds), drawing only their sizes from the
        // trace: the line told to cut the 3-row trace in half with head -n, which changes nothing.
        File.WriteAllText(Path.Combine(_folder, "azure-llm-2023-conv.csv"), """
            TIMESTAMP,ContextTokens,GeneratedTokens
            2023-11-16 18:00:00,200,10
            2023-11-16 18:00:01,300,5
            2023-11-16 18:00:02,100,20
            """);
        var info = new System.Diagnostics.ProcessStartInfo("dotnet") { WorkingDirectory = EndToEnd.RepoPaths.Root };
        foreach (var arg in new[] { EndToEnd.RepoPaths.Assembly("Scheduler.Simulator"), "flood", "--traces", _folder, "--light-rate", "10000", "--flood-seconds", "100" })
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["DOTNET_GCHeapHardLimit"] = "0x4000000";

        var (code, _, error) = await EndToEnd.BoundedProcess.RunAsync(info, TimeSpan.FromMinutes(2));

        Assert.Equal(SimulatorCommands.OutOfMemory, code);
        Assert.StartsWith(
            "error: out of memory replaying the flood scenario's arrivals (about 11,000,000 requests flooded and 1,000,000 alone, replayed with each of 2 fairness policies at once) on the fleet sim/fleets/hetero.json: ",
            error,
            StringComparison.Ordinal);
        Assert.Contains("; lower --light-rate, --flood-multiplier or --flood-seconds, or give the process more memory", error, StringComparison.Ordinal);
        Assert.DoesNotContain("head -n", error, StringComparison.Ordinal);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Theory]
    [InlineData("run --trace {empty.csv}", "error: {empty.csv} line 1: header: the file is empty; expected ")]
    [InlineData("run --trace {header.csv}", "error: {header.csv}: no requests in the trace")]
    [InlineData("run --trace {burstgpt-header.csv}", "error: {burstgpt-header.csv}: no requests in the trace")]
    [InlineData("run --fleet {missing.json}", "error: --fleet: no such file: {missing.json}")]
    [InlineData("run --fleet no/such/fleet.json", "error: --fleet: no such file: no/such/fleet.json (a relative path, read from the current folder {cwd})")]
    [InlineData("run --trace code --traces {folder}", "error: --traces: no such file: {folder}/azure-llm-2023-code.csv")]
    [InlineData("flood --traces {folder}", "error: --traces: no such file: {folder}/azure-llm-2023-conv.csv")]
    [InlineData("autoscale --catalogue {fleet.json} --traces {folder}", "error: --traces: no such file: {folder}/azure-llm-2023-code.csv")]
    [InlineData("autoscale --catalogue {missing.json}", "error: --catalogue: no such file: {missing.json}")]
    [InlineData("prefix --kv-trace {missing.jsonl}", "error: --kv-trace: no such file: {missing.jsonl}")]
    [InlineData("run --fleet {empty.json}", "error: {empty.json}: the file is empty; expected a fleet: a JSON object with name and nodes (see sim/fleets)")]
    [InlineData("run --fleet {folder}", "error: {folder}: a folder, not a file")]
    [InlineData("run --fleet", "error: --fleet: no file given", "")]
    [InlineData("flood --traces {empty-traces}", "error: {empty-traces}/azure-llm-2023-conv.csv line 1: header: the file is empty; expected ")]
    [InlineData("flood --traces {header-traces}", "error: {header-traces}/azure-llm-2023-conv.csv: no requests in the trace")]
    [InlineData("autoscale --catalogue", "error: --catalogue: no file given", "")]
    [InlineData("autoscale --catalogue {empty.json}", "error: {empty.json}: the file is empty; ")]
    [InlineData("matrix --out {folder}/out --gpu-fleet", "error: --gpu-fleet: no file given", "")]
    [InlineData("matrix --out", "error: --out: no folder given", "")]
    [InlineData("prefix --kv-trace {empty.jsonl}", "error: {empty.jsonl}: no requests in the trace")]
    [InlineData("prefix --kv-trace {header.csv}", "error: {header.csv} line 1: ")]
    [InlineData("prefix --kv-trace", "error: --kv-trace: no file given", "")]
    [InlineData("prefix --write-kv-traces", "error: --write-kv-traces: no folder given", "")]
    [InlineData("prefix --write-kv-traces {empty.csv}/kv", "error: --write-kv-traces {empty.csv}/kv: cannot be made a folder (")]
    public void ABadInputFileOrFolder_IsOneErrorLineNamingIt_AndExitsBadInput(string command, string message, string? lastArgument = null)
    {
        // An empty --write-kv-traces ended in the runtime's stack trace; an empty --catalogue was called --fleet; an
        // empty fleet file was the JSON reader's "does not contain any JSON tokens … isFinalBlock is true"; a missing
        // file was the runtime's "Could not find a part of the path", naming neither the option (a default --traces
        // or --fleet, relative to the repository's root, missed from another folder) nor the folder it was read from.
        var fleet = Path.Combine(_folder, "fleet.json");
        File.WriteAllText(fleet, """{ "name": "one-l4", "nodes": [ { "product": "L4", "count": 1, "pricing": "hourly" } ] }""");
        File.WriteAllText(Path.Combine(_folder, "empty.csv"), "");
        File.WriteAllText(Path.Combine(_folder, "empty.json"), " \n");
        File.WriteAllText(Path.Combine(_folder, "empty.jsonl"), "");
        File.WriteAllLines(Path.Combine(_folder, "header.csv"), ["TIMESTAMP,ContextTokens,GeneratedTokens"]);
        File.WriteAllLines(Path.Combine(_folder, "burstgpt-header.csv"), ["Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type"]);
        Directory.CreateDirectory(Path.Combine(_folder, "folder"));
        foreach (var (traces, content) in new[] { ("empty-traces", ""), ("header-traces", "TIMESTAMP,ContextTokens,GeneratedTokens\n") })
        {
            Directory.CreateDirectory(Path.Combine(_folder, traces));
            File.WriteAllText(Path.Combine(_folder, traces, "azure-llm-2023-conv.csv"), content);
        }

        string Paths(string text) => Regex.Replace(text, "{([^}]+)}", m => m.Groups[1].Value == "cwd" ? Environment.CurrentDirectory : Path.Combine(_folder, m.Groups[1].Value));
        string[] args = [.. Paths(command).Split(' '), .. lastArgument is null ? [] : new[] { lastArgument }];
        args = command.Contains("--fleet", StringComparison.Ordinal) ? args : [.. args, "--fleet", fleet];

        var (code, _, error) = Invoke(args);

        Assert.True(code == SimulatorCommands.BadInput, $"{string.Join(' ', args)} exited {code}: {error}");
        Assert.StartsWith(Paths(message), error, StringComparison.Ordinal);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void OutOfMemoryLine_SaysWhereItWas_WhatItNeeds_AndWhatToDo()
    {
        var progress = new TraceProgress();
        Assert.StartsWith(
            "error: out of memory: the simulator keeps every request and its outcome in memory", SimulatorCommands.OutOfMemoryLine(progress, "fleet.json", 64_000_000), StringComparison.Ordinal);

        progress.Line("week.csv", 1_234_567);
        var reading = SimulatorCommands.OutOfMemoryLine(progress, "fleet.json", 64_000_000);
        Assert.StartsWith("error: out of memory reading week.csv at its line 1,234,567: the simulator keeps", reading, StringComparison.Ordinal);
        Assert.EndsWith(
            "and this process may use 64 MB; replay fewer of its rows (head -n 617283 'week.csv' > part.csv keeps its first half), " +
            "replay fewer placements (prefix --prefix-placements), or give the process more memory",
            reading,
            StringComparison.Ordinal);

        progress.End("mooncake.jsonl", 500_000);
        var replaying = SimulatorCommands.OutOfMemoryLine(progress, "fleet.json", 64_000_000);
        Assert.StartsWith("error: out of memory replaying mooncake.jsonl (all its 500,000 lines read) on the fleet fleet.json: ", replaying, StringComparison.Ordinal);
        Assert.Contains("(head -n 250000 'mooncake.jsonl' > part.jsonl keeps its first half)", replaying, StringComparison.Ordinal);
    }

    [Fact]
    public void Prefix_KvTrace_SaysWhatItRead()
    {
        File.WriteAllText(Path.Combine(_folder, "fleet.json"), """
            { "name": "one-a100", "nodes": [ { "product": "A100", "count": 1, "pricing": "hourly" } ] }
            """);
        var trace = Path.Combine(_folder, "turns.jsonl");
        File.WriteAllText(trace, """
            {"timestamp": 2000, "input_length": 1100, "output_length": 5, "hash_ids": [1, 2]}
            {"timestamp": 0, "input_length": 1100, "output_length": 5, "hash_ids": [1, 3]}

            """);

        var (code, output, error) = Invoke(["prefix", "--fleet", Path.Combine(_folder, "fleet.json"), "--kv-trace", trace, "--prefix-placements", "cost-aware"]);

        Assert.True(code == 0, error);
        Assert.StartsWith(
            $"read {trace} (KV-cache JSONL): 2 requests, none skipped, 1 rows out of time order (replayed in time order); spans 2 s, from '0' (line 2) to '2000' (line 1)",
            output, StringComparison.Ordinal);

        // The fleet file has no description: its groups introduce it (it printed "Fleet `one-a100`: .").
        Assert.Contains("Fleet `one-a100`: 1×A100. Continuous batching", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Prefix_KvTrace_PrintsEveryPlacementsHitRateAgainstTheOracle()
    {
        // Two requests sharing their first 512-token block, then a third resending the second whole.
        File.WriteAllText(Path.Combine(_folder, "fleet.json"), """
            { "name": "one-a100", "nodes": [ { "product": "A100", "count": 1, "pricing": "hourly" } ] }
            """);
        File.WriteAllText(Path.Combine(_folder, "trace.jsonl"), """
            {"timestamp": 0, "input_length": 1100, "output_length": 5, "hash_ids": [1, 2]}
            {"timestamp": 1000, "input_length": 1100, "output_length": 5, "hash_ids": [1, 3]}
            {"timestamp": 2000, "input_length": 1200, "output_length": 5, "hash_ids": [1, 3]}
            """);

        var (code, output, _) = Invoke(["prefix", "--fleet", Path.Combine(_folder, "fleet.json"), "--kv-trace", Path.Combine(_folder, "trace.jsonl")]);

        // The oracle reuses 512 + 1,024 of 3,400 prompt tokens (45.18%); one replica holds them all, so does every policy.
        Assert.Equal(0, code);
        Assert.Contains("| trace | prefix-only | 45.18% | 45.18% | 100.00% |", output, StringComparison.Ordinal);
        Assert.Contains("| trace | cost-aware | 45.18% | 45.18% | 100.00% |", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Prefix_RequestsItDidNotServe_AreNamedWithTheirReason_AndNothingServedCostsADash()
    {
        // Both over the model's context; the first one's length near int.MaxValue once overflowed the reader's check.
        File.WriteAllText(Path.Combine(_folder, "fleet.json"), """
            { "name": "one-a100", "nodes": [ { "product": "A100", "count": 1, "pricing": "hourly" } ] }
            """);
        File.WriteAllText(Path.Combine(_folder, "huge.jsonl"), """
            {"timestamp": 0, "input_length": 2147483647, "output_length": 10, "hash_ids": []}
            {"timestamp": 1, "input_length": 100000, "output_length": 10, "hash_ids": []}
            """);

        var (code, output, error) = Invoke(["prefix", "--fleet", Path.Combine(_folder, "fleet.json"), "--kv-trace", Path.Combine(_folder, "huge.jsonl"), "--prefix-placements", "cost-aware"]);

        Assert.True(code == SimulatorCommands.NotAllServed, error);
        Assert.Contains("| huge | cost-aware | — | — | — | — | — | — | — | — | 2 |", output, StringComparison.Ordinal);
        Assert.DoesNotContain("NaN", output, StringComparison.Ordinal);
        Assert.Contains("huge / cost-aware: refused: prompt + output over the model's context of 8,192 tokens: 2 — ", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Prefix_SystemPrompts_ShapesTheSystemPromptWorkload_AsTheTraceItWritesShows()
    {
        var folder = Path.Combine(_folder, "kv");
        File.WriteAllText(Path.Combine(_folder, "fleet.json"), """
            { "name": "two-h100", "nodes": [ { "product": "H100", "count": 2, "pricing": "hourly" } ] }
            """);

        var (code, output, error) = Invoke(["prefix", "--fleet", Path.Combine(_folder, "fleet.json"), "--system-prompts", "64", "--prefix-workloads", "system-prompt", "--prefix-placements", "round-robin", "--write-kv-traces", folder]);

        Assert.True(code == 0, error);
        Assert.Contains("| system-prompt | round-robin |", output, StringComparison.Ordinal);
        var roots = File.ReadLines(Path.Combine(folder, "system-prompt.jsonl")).Select(line => JsonDocument.Parse(line).RootElement.GetProperty("hash_ids")[0].GetInt64());
        Assert.Equal(64, roots.Distinct().Count());
    }

    [Fact]
    public void Prefix_NonNumericPrefixSeed_IsAParseErrorNamingIt()
    {
        var (code, _, error) = Invoke(["prefix", "--prefix-seed", "seven"]);

        Assert.Equal(SimulatorCommands.BadInput, code);
        Assert.Contains("seven", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Prefix_BadKvTrace_PrintsOneErrorLineNamingTheField_AndExitsBadInput()
    {
        File.WriteAllText(Path.Combine(_folder, "fleet.json"), """
            { "name": "one-a100", "nodes": [ { "product": "A100", "count": 1, "pricing": "hourly" } ] }
            """);
        File.WriteAllText(Path.Combine(_folder, "bad.jsonl"), """{"timestamp": 0, "input_length": 0, "output_length": 1, "hash_ids": []}""");

        var (code, _, error) = Invoke(["prefix", "--fleet", Path.Combine(_folder, "fleet.json"), "--kv-trace", Path.Combine(_folder, "bad.jsonl")]);

        Assert.Equal(SimulatorCommands.BadInput, code);
        Assert.StartsWith($"error: {Path.Combine(_folder, "bad.jsonl")} line 1: input_length: must be at least 1, not 0", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Prefix_WithoutPreemption_RunsEveryPlacementOnTheKvTrace()
    {
        File.WriteAllText(Path.Combine(_folder, "fleet.json"), """
            { "name": "one-a100", "nodes": [ { "product": "A100", "count": 1, "pricing": "hourly" } ] }
            """);
        File.WriteAllText(Path.Combine(_folder, "turns.jsonl"), """
            {"timestamp": 0, "input_length": 600, "output_length": 8, "hash_ids": [1]}
            {"timestamp": 1000, "input_length": 1100, "output_length": 8, "hash_ids": [1, 2, 3]}
            """);

        var (code, output, error) = Invoke(["prefix", "--fleet", Path.Combine(_folder, "fleet.json"), "--kv-trace", Path.Combine(_folder, "turns.jsonl"), "--max-preemptions", "0"]);

        Assert.True(code == 0, error);
        Assert.All(PrefixScenario.Placements, placement => Assert.Contains($"| turns | {placement} |", output, StringComparison.Ordinal));
    }

    [Fact]
    public void Prefix_NegativeMaxPreemptions_IsAParseErrorNamingIt()
    {
        var (code, _, error) = Invoke(["prefix", "--max-preemptions", "-1"]);

        Assert.Equal(SimulatorCommands.BadInput, code);
        Assert.Contains("-1", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("run", "-0.001")]
    [InlineData("run", "2")]
    [InlineData("run", "cheap")]
    [InlineData("flood", "-1")]
    [InlineData("prefix", "1.5")]
    [InlineData("autoscale", "-0.5")]
    [InlineData("matrix", "3.6")]
    public void AWaitCostOutOfRange_IsAParseErrorNamingIt_OnEveryCommandThatPricesWaiting(string command, string price)
    {
        var (code, _, error) = Invoke([command, "--wait-cost", price]);

        Assert.Equal(SimulatorCommands.BadInput, code);
        Assert.Contains($"--wait-cost must be a number in [0, 1], not '{price}'", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-0.001")]
    [InlineData("1.5")]
    [InlineData("dear")]
    public void Prefix_ASessionWaitCostOutOfRange_IsAParseErrorNamingIt(string price)
    {
        var (code, _, error) = Invoke(["prefix", "--session-wait-cost", price]);

        Assert.Equal(SimulatorCommands.BadInput, code);
        Assert.Contains($"--session-wait-cost must be a number in [0, 1], not '{price}'", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_ATraceOutOfTimeOrder_GivesTheFiguresOfTheSortedTrace()
    {
        File.WriteAllText(Path.Combine(_folder, "fleet.json"), """
            { "name": "one-l4", "nodes": [ { "product": "L4", "count": 1, "pricing": "hourly" } ] }
            """);
        var rows = Enumerable.Range(0, 30).Select(i => $"2023-11-16 18:00:{i:00}.5000000,{100 + (i * 37 % 900)},{1 + (i % 7)}").ToList();
        var sorted = Directory.CreateDirectory(Path.Combine(_folder, "sorted")).FullName;
        var shuffled = Directory.CreateDirectory(Path.Combine(_folder, "shuffled")).FullName;
        File.WriteAllLines(Path.Combine(sorted, "azure-llm-2023-conv.csv"), ["TIMESTAMP,ContextTokens,GeneratedTokens", .. rows]);
        File.WriteAllLines(Path.Combine(shuffled, "azure-llm-2023-conv.csv"), ["TIMESTAMP,ContextTokens,GeneratedTokens", .. rows.Skip(20), .. rows.Take(20).Reverse()]);

        var fromSorted = Invoke(["run", "--fleet", Path.Combine(_folder, "fleet.json"), "--traces", sorted]);
        var fromShuffled = Invoke(["run", "--fleet", Path.Combine(_folder, "fleet.json"), "--traces", shuffled]);

        Assert.Equal(0, fromSorted.Code);
        Assert.Contains("jobs served 30,", fromSorted.Output, StringComparison.Ordinal);
        Assert.Equal(WithoutWallTime(fromSorted.Output), WithoutWallTime(fromShuffled.Output));

        // The read account differs (the folder, the rows out of order); the figures must not.
        static string WithoutWallTime(string output) => string.Join('\n', output.Split('\n').Where(l => !l.StartsWith("simulated in", StringComparison.Ordinal) && !l.StartsWith("read ", StringComparison.Ordinal)));
    }

    [Fact]
    public void Flood_EveryRequestRefused_SaysSoCountsThem_AndExitsNotAllServed()
    {
        File.WriteAllText(Path.Combine(_folder, "fleet.json"), """
            { "name": "small-context", "maxContextTokens": 100, "nodes": [ { "product": "L4", "count": 1, "pricing": "hourly" } ] }
            """);
        File.WriteAllLines(Path.Combine(_folder, "azure-llm-2023-conv.csv"), ["TIMESTAMP,ContextTokens,GeneratedTokens", "2023-11-16 18:00:00.0000000,200,10"]);

        var (code, output, error) = Invoke(["flood", "--fleet", Path.Combine(_folder, "fleet.json"), "--traces", _folder, "--flood-seconds", "5", "--light-rate", "4"]);

        Assert.True(code == SimulatorCommands.NotAllServed, error);
        Assert.Contains("light p99 alone — ms, flooded — ms, ratio — (the light tenant had no request served in one run or both)", output, StringComparison.Ordinal);
        Assert.Matches(@"refused / failed: alone [1-9]\d* / 0, flooded [1-9]\d* / 0", output);
        Assert.Contains("fairness: max service gap ", output, StringComparison.Ordinal);
        Assert.DoesNotContain("NaN", output, StringComparison.Ordinal);
        Assert.DoesNotContain("FairnessResult", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Prefix_ARefusedRequest_NeitherSeedsTheOracleNorCountsInIt_AndTheRunExitsNotAllServed()
    {
        // The first request is over the 1,200-token context and refused; the second resends its first two blocks. The
        // oracle used to count the first as sent (a 1,024-token hit for the second) where no placement could.
        File.WriteAllText(Path.Combine(_folder, "fleet.json"), """
            { "name": "one-a100", "maxContextTokens": 1200, "nodes": [ { "product": "A100", "count": 1, "pricing": "hourly" } ] }
            """);
        File.WriteAllText(Path.Combine(_folder, "trace.jsonl"), """
            {"timestamp": 0, "input_length": 1600, "output_length": 5, "hash_ids": [1, 2, 3]}
            {"timestamp": 1000, "input_length": 1100, "output_length": 5, "hash_ids": [1, 2]}
            """);

        var (code, output, _) = Invoke(["prefix", "--fleet", Path.Combine(_folder, "fleet.json"), "--kv-trace", Path.Combine(_folder, "trace.jsonl")]);

        Assert.Equal(SimulatorCommands.NotAllServed, code);
        Assert.All(PrefixScenario.Placements, placement => Assert.Contains($"| trace | {placement} | 0.00% | 0.00% |", output, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("--prefix-workloads", "agent")]
    [InlineData("--prefix-seed", "3")]
    [InlineData("--system-prompts", "64")]
    public void Prefix_AKvTraceWithAnOptionOfTheBuiltInWorkloads_IsAParseErrorNamingBoth(string option, string value)
    {
        var (code, _, error) = Invoke(["prefix", "--kv-trace", Path.Combine(_folder, "trace.jsonl"), option, value]);

        Assert.Equal(SimulatorCommands.BadInput, code);
        Assert.Contains(option, error, StringComparison.Ordinal);
        Assert.Contains("--kv-trace", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("run", "--rate", "0", "--rate must be a number in [0.001, 1000], not '0'")]
    [InlineData("run", "--rate", "fast", "--rate must be a number in [0.001, 1000], not 'fast'")]
    [InlineData("run", "--placement", "cheapest", "error: --placement: Argument 'cheapest' not recognized. Must be one of: 'cost-aware' 'round-robin'")]
    [InlineData("run", "--trace", "chat", "--trace must be code, conv or the path of a CSV trace file, not 'chat'")]
    [InlineData("run", "--max-decode-deferrals", "-1", "--max-decode-deferrals must be a whole number of at least 0, not '-1'")]
    [InlineData("run", "--max-preemptions", "two", "--max-preemptions must be a whole number of at least 0, not 'two'")]
    [InlineData("autoscale", "--max-plan-simulations", "0", "--max-plan-simulations must be a whole number of at least 1, not '0'")]
    [InlineData("run", "--rate", "1e-12", "--rate must be a number in [0.001, 1000], not '1e-12'")]
    [InlineData("run", "--rate", "5000", "--rate must be a number in [0.001, 1000], not '5000'")]
    [InlineData("autoscale", "--cold-start-seconds", "1e300", "--cold-start-seconds must be a number in (0, 86400], not '1e300'")]
    [InlineData("autoscale", "--scale-down-seconds", "1e15", "--scale-down-seconds must be a number in (0, 86400], not '1e15'")]
    [InlineData("flood", "--flood-seconds", "1e9", "--flood-seconds must be a number in (0, 86400], not '1e9'")]
    [InlineData("prefix", "--system-prompts", "0", "--system-prompts must be a whole number of at least 1, not '0'")]
    public void ABadOrOutOfRangeOption_IsOneErrorLineNamingIt_AndExitsBadInput(string command, string option, string value, string message)
    {
        var (code, output, error) = Invoke([command, option, value]);

        // It exited 1, a runtime failure's code, after the errors and the whole help page, while a bad file exited 2; a
        // choice's values came one a line, without the option's name.
        Assert.Equal(SimulatorCommands.BadInput, code);
        Assert.Equal("", output);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.Contains(message, line, StringComparison.Ordinal);
    }

    [Fact]
    public void Matrix_AnOutputFolderThatCannotBeMade_IsRefusedBeforeAnySimulation()
    {
        var file = Path.Combine(_folder, "a-file");
        File.WriteAllText(file, "");

        var (code, output, error) = Invoke(["matrix", "--out", Path.Combine(file, "results"), "--fleet", Path.Combine(_folder, "missing.json")]);

        // The missing fleet would be the first thing the simulations read: the folder is checked before it.
        Assert.Equal(SimulatorCommands.BadInput, code);
        Assert.StartsWith($"error: --out {Path.Combine(file, "results")}: cannot be made a folder", error, StringComparison.Ordinal);
        Assert.Equal("", output);
    }

    [Fact]
    public void Autoscale_ACatalogueWithoutHourlyPools_SaysSo_AndNoSavingReadsNegative()
    {
        File.WriteAllText(Path.Combine(_folder, "fleet.json"), """
            { "name": "one-l4", "nodes": [ { "product": "L4", "count": 1, "pricing": "hourly" } ] }
            """);
        File.WriteAllText(Path.Combine(_folder, "metered.json"), """
            { "name": "metered", "nodes": [ { "product": "LPU", "count": 1, "pricing": "metered" } ] }
            """);
        foreach (var trace in new[] { "code", "conv" })
        {
            File.WriteAllLines(Path.Combine(_folder, $"azure-llm-2023-{trace}.csv"),
                ["TIMESTAMP,ContextTokens,GeneratedTokens", .. Enumerable.Range(0, 20).Select(i => $"2023-11-16 18:00:{i:00}.0000000,500,20")]);
        }

        var (code, output, error) = Invoke(["autoscale", "--fleet", Path.Combine(_folder, "fleet.json"), "--catalogue", Path.Combine(_folder, "metered.json"), "--traces", _folder]);

        Assert.True(code == 0, error);
        Assert.Contains("| autoscaled (no hourly pool to scale) |", output, StringComparison.Ordinal);
        Assert.DoesNotContain("(mean )", output, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"-\d[\d.]*% (below|above)", output);
    }

    /// <summary><c>run</c> of a one-request trace on one L4, its stdout <paramref name="output"/>: its exit code and stderr.</summary>
    private (int Code, string Error) RunOneRequestWritingTo(TextWriter output)
    {
        File.WriteAllText(Path.Combine(_folder, "fleet.json"), """{ "name": "one-l4", "nodes": [ { "product": "L4", "count": 1, "pricing": "hourly" } ] }""");
        File.WriteAllText(Path.Combine(_folder, "trace.csv"), """
            TIMESTAMP,ContextTokens,GeneratedTokens
            2023-11-16 18:00:00,200,10
            """);
        var error = new StringWriter();
        var code = SimulatorCommands.Invoke(
            ["run", "--trace", Path.Combine(_folder, "trace.csv"), "--fleet", Path.Combine(_folder, "fleet.json")],
            new InvocationConfiguration { Output = output, Error = error });
        return (code, error.ToString());
    }

    private sealed class ThrowingWriter(Func<Exception> failure) : StringWriter
    {
        public override void Write(char value) => throw failure();

        public override void Write(string? value) => throw failure();

        public override void WriteLine(string? value) => throw failure();
    }

    /// <summary>Both Azure traces in the test's folder, each of <paramref name="rows"/>, and a fleet of one L4 (fleet.json).</summary>
    private void WriteTracesAndOneL4Fleet(string[] rows)
    {
        foreach (var trace in new[] { "code", "conv" })
        {
            File.WriteAllLines(Path.Combine(_folder, $"azure-llm-2023-{trace}.csv"), ["TIMESTAMP,ContextTokens,GeneratedTokens", .. rows]);
        }

        File.WriteAllText(Path.Combine(_folder, "fleet.json"), """{ "name": "one-l4", "nodes": [ { "product": "L4", "count": 1, "pricing": "hourly" } ] }""");
    }

    private static (int Code, string Output, string Error) Invoke(string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = SimulatorCommands.Invoke(args, new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }
}
