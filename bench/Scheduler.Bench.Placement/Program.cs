using System.Diagnostics;
using System.Runtime.InteropServices;
using Scheduler.Policies;
using Scheduler.Policies.Dispatch;
using Scheduler.Policies.Placement;
using Scheduler.Policies.Prefix;
using Scheduler.Policies.Profiles;

// The cost of one placement decision as the placement grain makes it: enqueue a job and run an admission round
// (fair-queue pick, fit check, the policy's choice, the reservation) on a fleet of N replicas (H100/A100/L4/LPU in
// turn). Every round one job finishes and a job's first token is reported a fixed number of rounds after its
// admission: the grain's per-job upkeep, timed apart. Target (DESIGN.md): <= 20 µs per decision at 1,000 replicas.
//
// Arguments: the replica count (default 1,000), and
//   --profile-capacity  each replica gets its profile's own slots and KV (64 to 256 slots) instead of 32 slots, 64k KV;
//   --spread            each replica holds a random number of running jobs, kept there (the finishing job is on the
//                       replica just chosen): every running count of every accelerator has replicas, the index's worst
//                       case. Without it the fleet starts half full and a uniformly random running job finishes, so
//                       the policy shapes the fleet (cost-aware fills the cheapest accelerators first);
//   --fair-queue NAME   the fair queue (default weighted-fair; fifo isolates the placement from the queue's cost);
//   --policy NAME       only this placement policy (default: every one);
//   --prefix            each job's prompt is one of 500 sessions' growing prefix in 64-token blocks (made before the
//                       timed part), so the replicas' prefix indexes fill, evict and are matched on every decision;
//   --sessions          with --prefix, each job also names its session (SessionId), so the dispatcher's session affinity
//                       and cost-aware's session term (ReplicaPrediction.SessionLossCostUsd) run on every decision;
//   --session-wait-cost USD  with --sessions, cost-aware's Scheduling:SessionWaitCostUsdPerSecond (default: the product's, 0.3;
//                       0 turns it off): a session's own and next turn's waits priced among the replicas with headroom;
//   --cases             also splits the decisions by what they did (see CaseLog.cs): every other measured round times the
//                       policy's choice alone instead of the whole round, and each round's work is counted after it.
var replicaCount = args.FirstOrDefault(a => int.TryParse(a, out _)) is { } count ? int.Parse(count) : 1_000;
var profileCapacity = args.Contains("--profile-capacity");
var spread = args.Contains("--spread");
var prefix = args.Contains("--prefix");
var fairness = args.SkipWhile(a => a != "--fair-queue").Skip(1).FirstOrDefault() ?? SchedulingPolicies.DefaultFairness;
var only = args.SkipWhile(a => a != "--policy").Skip(1).FirstOrDefault();
var cases = args.Contains("--cases");
var sessionIds = args.Contains("--sessions") ? Enumerable.Range(0, 500).Select(i => $"session-{i}").ToArray() : null;
var sessionWaitCost = args.SkipWhile(a => a != "--session-wait-cost").Skip(1).FirstOrDefault() is { } price
    ? double.Parse(price, System.Globalization.CultureInfo.InvariantCulture)
    : PlacementSettings.DefaultSessionWaitCostUsdPerSecond;
const int Measured = 50_000;
const int FirstTokenLagRounds = 50;
var warmup = TimeSpan.FromSeconds(1); // long enough for tiered JIT to reach optimised code before measuring
// ... and enough rounds that every replica's prefix index has filled to its budget, so the figures are the steady
// state's (an index grows its arrays while it fills, once).
var warmupRounds = prefix ? 400_000 : 0;
AcceleratorProfile[] products = [AcceleratorProfiles.H100, AcceleratorProfiles.A100, AcceleratorProfiles.L4, AcceleratorProfiles.Lpu];

var capacity = profileCapacity ? "each profile's own slots and KV" : "32 slots and 64k KV tokens each";
var state = spread ? "running counts spread at random and held" : "half full, a random running job finishes per round";
var prompts = prefix ? "; prompts share prefixes (500 sessions, 64-token blocks)" : "";
Console.WriteLine($"placement decision cost, {replicaCount} replicas (H100/A100/L4/LPU in turn, {capacity}; {state}), {fairness} queue{prompts}, {Measured:N0} rounds after {warmup.TotalSeconds:0} s and {warmupRounds:N0} rounds of warm-up");
Console.WriteLine("| policy | µs per decision (mean) | p50 | p99 | p99.9 | CPU µs per decision (mean / p50 / p99 / p99.9) | bytes allocated per decision | upkeep µs per job (mean / p50) | CPU µs per round, whole loop |");
Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
var caseReports = new List<string>();
foreach (var policy in SchedulingPolicies.PlacementNames.Order().Where(p => only is null || p == only))
{
    Console.WriteLine(Run(policy));
}

if (cases)
{
    Console.WriteLine();
    Console.WriteLine("(with --cases every other round above ran after its choice alone was timed, on caches that choice warmed)");
    caseReports.ForEach(Console.WriteLine);
}

string Run(string policy)
{
    var random = new Random(7);
    var dispatcher = Dispatcher.Create(policy, fairness, SchedulingPolicies.DefaultBatching, new Random(11), placementSettings: new PlacementSettings { SessionWaitCostUsdPerSecond = sessionWaitCost });
    var running = new List<(ReplicaView Replica, JobDemand Job)>();
    var firstTokens = new Queue<(ReplicaView Replica, JobDemand Job)>();
    for (var i = 0; i < replicaCount; i++)
    {
        var profile = products[i % products.Length];
        var replica = profileCapacity
            ? new ReplicaView($"r{i}", $"node{i / 8}", $"acc{i}", profile, profile.MaxSequences, profile.KvCapacityTokens)
            : new ReplicaView($"r{i}", $"node{i / 8}", $"acc{i}", profile, 32, 64_000);
        dispatcher.Replicas[replica.ReplicaId] = replica;
        var jobs = spread ? random.Next(replica.MaxSequences) : replica.MaxSequences / 2;
        for (var s = 0; s < jobs; s++)
        {
            var job = new JobDemand($"pre-{i}-{s}", "t0", 512, 128, JobPriority.Standard, 2_000, DateTimeOffset.UnixEpoch);
            replica.Admit(job);
            replica.PrefillDone(job.JobId);
            running.Add((replica, job));
        }
    }

    var decisions = new double[Measured];
    var cpuDecisions = new double[Measured];
    var upkeep = new double[Measured];
    var allocated = 0L;
    var log = cases ? new CaseLog(dispatcher, Measured) : null;
    var next = 0;
    var warmupEnds = Stopwatch.GetTimestamp() + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
    var measured = -1;
    var cpuAtStart = TimeSpan.Zero;
    while (measured < Measured)
    {
        if (measured < 0 && next >= warmupRounds && Stopwatch.GetTimestamp() >= warmupEnds)
        {
            measured = 0;
            cpuAtStart = Process.GetCurrentProcess().TotalProcessorTime;
        }

        var promptTokens = random.Next(64, 2_048);
        var session = 0; // drawn where it always was, so --sessions replays the same jobs
        var job = new JobDemand($"j{next++}", $"t{random.Next(50)}", promptTokens, random.Next(16, 512), JobPriority.Standard, 2_000, DateTimeOffset.UnixEpoch,
            Blocks: prefix ? SessionPrompt(session = random.Next(500), promptTokens) : null,
            SessionId: prefix ? sessionIds?[session] : null);
        var choiceAlone = log is not null && measured >= 0 && measured % 2 == 1;
        if (choiceAlone)
        {
            // The policy's choice without the queue and the reservation: a pure function of the fleet, so the round
            // below makes the same decision (its own time, with the caches this one warmed, is not recorded).
            var choiceStart = Stopwatch.GetTimestamp();
            log!.Choose(job);
            log.ChoiceTicks = Stopwatch.GetTimestamp() - choiceStart;
        }

        var gcBefore = GC.CollectionCount(0);
        var usageBefore = log is not null ? ThreadUsage() : default;
        var bytesBefore = GC.GetAllocatedBytesForCurrentThread();
        var cpuStart = ThreadCpuNanoseconds();
        var start = Stopwatch.GetTimestamp();
        dispatcher.Queue.Enqueue(job);
        var admitted = dispatcher.AdmitWhatFits();
        var elapsed = Stopwatch.GetTimestamp() - start;
        var cpuElapsed = ThreadCpuNanoseconds() - cpuStart;
        var bytes = GC.GetAllocatedBytesForCurrentThread() - bytesBefore;
        if (admitted.Count != 1)
        {
            throw new InvalidOperationException($"round {next} admitted {admitted.Count} jobs, expected 1");
        }

        var chosen = admitted[0].Replica;
        if (log is not null && measured >= 0)
        {
            var usage = ThreadUsage();
            log.Record(measured, job, chosen, choiceAlone ? log.ChoiceTicks : elapsed, choiceAlone, GC.CollectionCount(0) - gcBefore,
                usage.MinorFaults - usageBefore.MinorFaults, usage.VoluntarySwitches + usage.InvoluntarySwitches - usageBefore.VoluntarySwitches - usageBefore.InvoluntarySwitches);
        }

        log?.Refresh(chosen);

        firstTokens.Enqueue((chosen, job));
        var (prefilled, prefilledJob) = firstTokens.Count > FirstTokenLagRounds ? firstTokens.Dequeue() : default;
        string finishing;
        if (spread)
        {
            finishing = chosen.RunningJobIds.First();
        }
        else
        {
            running.Add((chosen, job));
            var i = random.Next(running.Count);
            (chosen, finishing) = (running[i].Replica, running[i].Job.JobId);
            running[i] = running[^1];
            running.RemoveAt(running.Count - 1);
        }

        // The grain's upkeep per job: a first token reported (prefill done), a job finished (reservation freed).
        var upkeepStart = Stopwatch.GetTimestamp();
        if (prefilled is not null && prefilled.IsRunning(prefilledJob.JobId))
        {
            prefilled.PrefillDone(prefilledJob.JobId);
        }

        chosen.Release(finishing);
        var upkeepElapsed = Stopwatch.GetTimestamp() - upkeepStart;
        log?.Refresh(prefilled);
        log?.Refresh(chosen);

        if (measured >= 0)
        {
            upkeep[measured] = Microseconds(upkeepElapsed);
            cpuDecisions[measured] = cpuElapsed / 1_000.0;
            decisions[measured++] = Microseconds(elapsed);
            allocated += bytes;
        }
    }

    // CPU time, unlike the clock, does not run while the machine's other work has the core: an upper bound on the
    // mean decision cost free of preemption (it also pays for the job's creation, the upkeep and the bookkeeping).
    var cpuPerRound = (Process.GetCurrentProcess().TotalProcessorTime - cpuAtStart).TotalMicroseconds / Measured;
    var mean = decisions.Average();
    var upkeepMean = upkeep.Average();
    var cpuMean = cpuDecisions.Average();
    Array.Sort(cpuDecisions);
    Array.Sort(decisions);
    Array.Sort(upkeep);
    if (log is not null)
    {
        caseReports.Add(log.Report(policy));
    }

    return $"| {policy} | {mean:0.0} | {Percentile(decisions, 0.5):0.00} | {Percentile(decisions, 0.99):0.0} | {Percentile(decisions, 0.999):0.0} | {cpuMean:0.0} / {Percentile(cpuDecisions, 0.5):0.00} / {Percentile(cpuDecisions, 0.99):0.0} / {Percentile(cpuDecisions, 0.999):0.0} | {allocated / (double)Measured:0} | {upkeepMean:0.00} / {Percentile(upkeep, 0.5):0.00} | {cpuPerRound:0.0} |";

    static double Percentile(double[] sorted, double p) => sorted[(int)(sorted.Length * p)];

    // A session's prompt: its first promptTokens ÷ 64 blocks, the same ids every time, so longer prompts extend shorter ones.
    static PromptBlocks? SessionPrompt(int session, int promptTokens) =>
        PromptBlocks.FromBlockIds([.. Enumerable.Range(0, promptTokens / PromptBlocks.DefaultBlockTokens).Select(j => ((long)session * 100) + j)], PromptBlocks.DefaultBlockTokens);

    // The calling thread's CPU time (Linux: CLOCK_THREAD_CPUTIME_ID), which does not run while other processes have the
    // core: unlike the clock, a preempted decision is not charged the other process's slice. The load still shows in it
    // (a decision that runs after another process had the core pays cache misses), so compare runs alternated. The call
    // itself costs well under a microsecond, included.
    static long ThreadCpuNanoseconds() => ClockGetTime(3, out var now) == 0 ? (now.Seconds * 1_000_000_000) + now.Nanoseconds : 0;

    // The calling thread's page faults and context switches so far (Linux: RUSAGE_THREAD): a decision that faulted a
    // page in, or lost the core, is told apart from one that did neither (--cases).
    static RUsage ThreadUsage() => GetRUsage(1, out var usage) == 0 ? usage : default;

    [DllImport("libc", EntryPoint = "getrusage")]
    static extern int GetRUsage(int who, out RUsage usage);

    [DllImport("libc", EntryPoint = "clock_gettime")]
    static extern int ClockGetTime(int clock, out TimeSpec time);

    // From raw ticks: a TimeSpan would round every sample to 0.1 µs.
    static double Microseconds(long ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;
}

// struct rusage on 64-bit Linux: two timevals, then fourteen longs.
[StructLayout(LayoutKind.Sequential)]
internal struct RUsage
{
    public TimeSpec UserTime;
    public TimeSpec SystemTime;
    public long MaxResidentKb;
    public long SharedKb;
    public long UnsharedDataKb;
    public long UnsharedStackKb;
    public long MinorFaults;
    public long MajorFaults;
    public long Swaps;
    public long BlockInputs;
    public long BlockOutputs;
    public long MessagesSent;
    public long MessagesReceived;
    public long Signals;
    public long VoluntarySwitches;
    public long InvoluntarySwitches;
}

[StructLayout(LayoutKind.Sequential)]
internal struct TimeSpec
{
    public long Seconds;
    public long Nanoseconds;
}
