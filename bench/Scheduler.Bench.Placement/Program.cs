using System.Diagnostics;
using Scheduler.Policies;
using Scheduler.Policies.Dispatch;
using Scheduler.Policies.Placement;
using Scheduler.Policies.Profiles;

// The cost of one placement decision as the placement grain makes it: enqueue a job and run an admission round
// (fair-queue pick, candidate scan, policy choice, reservation) on a fleet of N replicas kept about half full,
// releasing one running job per round so capacity keeps turning over. Target (DESIGN.md): <= 20 µs at 1,000.
var replicaCount = args.Length > 0 && int.TryParse(args[0], out var n) ? n : 1_000;
const int Warmup = 5_000;
const int Measured = 50_000;
AcceleratorProfile[] products = [AcceleratorProfiles.H100, AcceleratorProfiles.A100, AcceleratorProfiles.L4, AcceleratorProfiles.Lpu];

Console.WriteLine($"placement decision cost, {replicaCount} replicas (H100/A100/L4/LPU mix), {Measured:N0} rounds after {Warmup:N0} warm-up");
Console.WriteLine($"| policy | µs per decision (mean) | p50 | p99 |");
Console.WriteLine($"|---|---:|---:|---:|");
foreach (var policy in SchedulingPolicies.PlacementNames.Order())
{
    var random = new Random(7);
    var dispatcher = Dispatcher.Create(policy, SchedulingPolicies.DefaultFairness, SchedulingPolicies.DefaultBatching, new Random(11));
    for (var i = 0; i < replicaCount; i++)
    {
        var profile = products[i % products.Length];
        var replica = new ReplicaView($"r{i}", $"node{i / 8}", $"acc{i}", profile, 32, 64_000);
        dispatcher.Replicas[replica.ReplicaId] = replica;
        for (var s = 0; s < 16; s++)
        {
            replica.Admit(new JobDemand($"pre-{i}-{s}", "t0", 512, 128, JobPriority.Standard, 2_000, DateTimeOffset.UnixEpoch));
        }
    }

    var replicas = dispatcher.Replicas.Values.ToArray();
    var samples = new double[Measured];
    var next = 0;
    for (var round = 0; round < Warmup + Measured; round++)
    {
        var job = new JobDemand($"j{next++}", $"t{random.Next(50)}", random.Next(64, 2_048), random.Next(16, 512), JobPriority.Standard, 2_000, DateTimeOffset.UnixEpoch);
        var start = Stopwatch.GetTimestamp();
        dispatcher.Queue.Enqueue(job);
        var admitted = dispatcher.AdmitWhatFits();
        var elapsed = Stopwatch.GetElapsedTime(start);
        if (admitted.Count != 1)
        {
            throw new InvalidOperationException($"round {round} admitted {admitted.Count} jobs, expected 1");
        }

        if (round >= Warmup)
        {
            samples[round - Warmup] = elapsed.TotalMicroseconds;
        }

        // A running job finishes somewhere, so the fleet stays about half full.
        var busy = replicas[random.Next(replicas.Length)];
        if (busy.RunningSequences > 0)
        {
            busy.Release(busy.RunningJobIds.First());
        }
    }

    Array.Sort(samples);
    Console.WriteLine($"| {policy} | {samples.Average():0.0} | {samples[samples.Length / 2]:0.0} | {samples[(int)(samples.Length * 0.99)]:0.0} |");
}
