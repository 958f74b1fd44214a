using System.Diagnostics;
using Scheduler.Policies;
using Scheduler.Policies.Dispatch;
using Scheduler.Policies.Placement;
using Scheduler.Policies.Profiles;

// The cost of one placement decision as the placement grain makes it: enqueue a job and run an admission round
// (fair-queue pick, fit check, the policy's choice, the reservation) on a fleet of N replicas kept half full.
// Every round one running job, picked uniformly, finishes; a job's first token is reported a fixed number of
// rounds after its admission. Those two events are the grain's per-job upkeep and are timed apart ("upkeep").
// Target (DESIGN.md): <= 20 µs per decision at 1,000 replicas.
var replicaCount = args.Length > 0 && int.TryParse(args[0], out var n) ? n : 1_000;
const int Measured = 50_000;
const int SlotsPerReplica = 32;
const int FirstTokenLagRounds = 50;
var warmup = TimeSpan.FromSeconds(1); // long enough for tiered JIT to reach optimised code before measuring
AcceleratorProfile[] products = [AcceleratorProfiles.H100, AcceleratorProfiles.A100, AcceleratorProfiles.L4, AcceleratorProfiles.Lpu];

Console.WriteLine($"placement decision cost, {replicaCount} replicas (H100/A100/L4/LPU in turn, {SlotsPerReplica} slots, half full), {Measured:N0} rounds after {warmup.TotalSeconds:0} s warm-up");
Console.WriteLine("| policy | µs per decision (mean) | p50 | p99 | p99.9 | bytes allocated per decision | upkeep µs per job (mean) |");
Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
foreach (var policy in SchedulingPolicies.PlacementNames.Order())
{
    Console.WriteLine(Run(policy));
}

string Run(string policy)
{
    var random = new Random(7);
    var dispatcher = Dispatcher.Create(policy, SchedulingPolicies.DefaultFairness, SchedulingPolicies.DefaultBatching, new Random(11));
    var running = new List<(ReplicaView Replica, JobDemand Job)>();
    var firstTokens = new Queue<(ReplicaView Replica, JobDemand Job)>();
    for (var i = 0; i < replicaCount; i++)
    {
        var replica = new ReplicaView($"r{i}", $"node{i / 8}", $"acc{i}", products[i % products.Length], SlotsPerReplica, 64_000);
        dispatcher.Replicas[replica.ReplicaId] = replica;
        for (var s = 0; s < SlotsPerReplica / 2; s++)
        {
            var job = new JobDemand($"pre-{i}-{s}", "t0", 512, 128, JobPriority.Standard, 2_000, DateTimeOffset.UnixEpoch);
            replica.Admit(job);
            replica.PrefillDone(job.PromptTokens);
            running.Add((replica, job));
        }
    }

    var decisions = new double[Measured];
    var upkeep = 0.0;
    var allocated = 0L;
    var next = 0;
    var warmupEnds = Stopwatch.GetTimestamp() + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
    var measured = -1;
    while (measured < Measured)
    {
        if (measured < 0 && Stopwatch.GetTimestamp() >= warmupEnds)
        {
            measured = 0;
        }

        var job = new JobDemand($"j{next++}", $"t{random.Next(50)}", random.Next(64, 2_048), random.Next(16, 512), JobPriority.Standard, 2_000, DateTimeOffset.UnixEpoch);
        var bytesBefore = GC.GetAllocatedBytesForCurrentThread();
        var start = Stopwatch.GetTimestamp();
        dispatcher.Queue.Enqueue(job);
        var admitted = dispatcher.AdmitWhatFits();
        var elapsed = Stopwatch.GetElapsedTime(start);
        var bytes = GC.GetAllocatedBytesForCurrentThread() - bytesBefore;
        if (admitted.Count != 1)
        {
            throw new InvalidOperationException($"round {next} admitted {admitted.Count} jobs, expected 1");
        }

        running.Add((admitted[0].Replica, job));
        firstTokens.Enqueue((admitted[0].Replica, job));

        // The grain's upkeep per job: a first token reported (prefill done), a job finished (reservation freed).
        var (prefilled, prefilledJob) = firstTokens.Count > FirstTokenLagRounds ? firstTokens.Dequeue() : default;
        var finishing = random.Next(running.Count);
        var (finishedOn, finishedJob) = running[finishing];
        running[finishing] = running[^1];
        running.RemoveAt(running.Count - 1);
        var upkeepStart = Stopwatch.GetTimestamp();
        if (prefilled is not null && prefilled.IsRunning(prefilledJob.JobId))
        {
            prefilled.PrefillDone(prefilledJob.PromptTokens);
        }

        finishedOn.Release(finishedJob.JobId);
        var upkeepElapsed = Stopwatch.GetElapsedTime(upkeepStart);

        if (measured >= 0)
        {
            decisions[measured++] = elapsed.TotalMicroseconds;
            upkeep += upkeepElapsed.TotalMicroseconds;
            allocated += bytes;
        }
    }

    var mean = decisions.Average();
    Array.Sort(decisions);
    return $"| {policy} | {mean:0.0} | {Percentile(0.5):0.0} | {Percentile(0.99):0.0} | {Percentile(0.999):0.0} | {allocated / (double)Measured:0} | {upkeep / Measured:0.00} |";

    double Percentile(double p) => decisions[(int)(decisions.Length * p)];
}
