using System.Globalization;
using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

// Who allocates in bench/Scheduler.Bench's concurrent windows. The runtime raises an AllocationTick event each time a
// heap has handed out about 100 KB; the event names the type of the object that crossed the line, the bytes since the
// last tick, and carries the allocating stack. Summed, the ticks are the bytes allocated; grouped by type or frame
// they are a sample of who allocated them. Usage:
//   AllocationTicks TRACE.nettrace JOBS_1_TENANT JOBS_4_TENANTS [TOP [TICKS.tsv [JOBS_STREAMJOBS]]]
// JOBS_* = the report's concurrent jobs/s × the counted window (5 s by default), to turn bytes into bytes per job;
// JOBS_STREAMJOBS, if given, reports the window of jobs over StreamJobs calls too (its jobs/s × 5; "-" for no TSV).
// TICKS.tsv, if named, gets every tick (ms, type, bytes, the stack innermost first, ';'-separated) for questions of
// one's own.
if (args.Length < 3)
{
    Console.Error.WriteLine("usage: AllocationTicks TRACE.nettrace JOBS_1_TENANT JOBS_4_TENANTS [TOP [TICKS.tsv [JOBS_STREAMJOBS]]]");
    return 2;
}

// Frames whose callees' allocations are worth a total of their own.
(string Label, string[] Parts)[] inclusive =
[
    ("the bench's client (`Scheduler.Bench`)", ["Scheduler.Bench."]),
    ("deep copies of grain-call arguments and state (`DeepCopy`)", [".DeepCopy("]),
    ("Orleans serialization (`Orleans.Serialization` serializers and codecs, copies excluded)", ["Orleans.Serialization.Serializer", "Orleans.Serialization.Codecs.", "OrleansCodeGen.Scheduler.Abstractions.Jobs.Codec_", "Orleans.Serialization.Buffers."]),
    ("grain-state writes (`WriteStateAsync`, memory storage)", ["WriteStateAsync", "MemoryGrainStorage", "MemoryStorageGrain"]),
    ("the dashboard's per-call profiler (`GrainProfilerFilter`)", ["GrainProfilerFilter"]),
    ("Orleans' per-call invoker with filters (`GrainMethodInvoker`)", ["Orleans.Runtime.GrainMethodInvoker"]),
    ("spans (`ActivitySource`, `Activity`)", ["System.Diagnostics.ActivitySource.", "System.Diagnostics.Activity."]),
    ("logging (`Microsoft.Extensions.Logging`)", ["Microsoft.Extensions.Logging."]),
    ("front door (`Scheduler.Silo.Api`)", ["Scheduler.Silo.Api."]),
    ("tenant grain", ["Scheduler.Grains.Tenants."]),
    ("job record (`JobGrain`)", ["Scheduler.Grains.Jobs."]),
    ("placement (`PlacementGrain`, `ModelPlacement`, policies)", ["Scheduler.Grains.Placement.", "Scheduler.Policies."]),
    ("node link, silo side (`Scheduler.Silo.Nodes`)", ["Scheduler.Silo.Nodes."]),
    ("event path back (`Scheduler.Silo.Streaming`)", ["Scheduler.Silo.Streaming."]),
    ("stream watch (`StreamBackfill`)", ["StreamBackfill"]),
    ("worker (`Scheduler.Worker`)", ["Scheduler.Worker."]),
    ("Kestrel (`Microsoft.AspNetCore.Server.Kestrel`)", ["Microsoft.AspNetCore.Server.Kestrel"]),
    ("gRPC client (`Grpc.Net.Client`)", ["Grpc.Net.Client"]),
    ("protobuf parsing and writing (`Google.Protobuf`)", ["Google.Protobuf."]),
];

var jobsOne = double.Parse(args[1], CultureInfo.InvariantCulture);
var jobsSpread = double.Parse(args[2], CultureInfo.InvariantCulture);
var top = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 25;
var tsv = args.Length > 4 && args[4] != "-" ? args[4] : null;
double? jobsMultiplexed = args.Length > 5 ? double.Parse(args[5], CultureInfo.InvariantCulture) : null;

var etlx = TraceLog.CreateFromEventPipeDataFile(args[0]);
using var log = new TraceLog(etlx);
var ticks = new List<Tick>();
foreach (var e in log.Events)
{
    if (e is GCAllocationTickTraceData tick)
    {
        ticks.Add(new Tick(tick.TimeStampRelativeMSec, tick.TypeName, tick.AllocationAmount64, Frames(tick.CallStack())));
    }
}

if (tsv is not null)
{
    await File.WriteAllLinesAsync(tsv, ticks.Select(t => FormattableString.Invariant($"{t.AtMs:0.0}\t{t.Type}\t{t.Bytes}\t{string.Join(';', t.Frames)}")));
}

// The windows, found like bench/profile/attribute_hops.py finds them: the 1-tenant streams start with the first
// StreamJob call of a concurrent caller (LoadRunner's Caller), the 4-tenant streams with the first call through the
// bench's Spread; each counts from 2 s in (run the bench with --warm-up 2) for 5 s.
var firstConcurrent = ticks.Where(t => t.Frames.Any(f => f.Contains("StreamJobCaller", StringComparison.Ordinal))
    && t.Frames.Any(f => f.Contains("LoadRunner+<Caller>", StringComparison.Ordinal))).Min(t => t.AtMs);
var firstSpread = ticks.Where(t => t.Frames.Any(f => f.Contains("g__Spread", StringComparison.Ordinal))).Min(t => t.AtMs);
Console.WriteLine($"{ticks.Count:#,0} allocation ticks; first concurrent call at {firstConcurrent / 1000:0.0} s, first spread call at {firstSpread / 1000:0.0} s");
Report("64 streams, 1 tenant", firstConcurrent + 2000, jobsOne);
Report("64 streams over 4 tenants", firstSpread + 2000, jobsSpread);
if (jobsMultiplexed is { } multiplexed)
{
    // The StreamJobs window runs between the two: from its first call through the bench's MultiplexedJobCaller.
    var firstMultiplexed = ticks.Where(t => t.Frames.Any(f => f.Contains("MultiplexedJobCaller", StringComparison.Ordinal))).Min(t => t.AtMs);
    Report("64 jobs in flight over StreamJobs calls", firstMultiplexed + 2000, multiplexed);
}

return 0;

void Report(string name, double fromMs, double jobs)
{
    var window = ticks.Where(t => t.AtMs >= fromMs && t.AtMs < fromMs + 5000).ToList();
    var total = window.Sum(t => t.Bytes);
    Console.WriteLine();
    Console.WriteLine($"## {name}: {window.Count:#,0} ticks, {total / 1e6:0.0} MB, {total / jobs:#,0} B per job ({jobs:#,0} jobs)");
    Table("type", window, t => t.Type, total, jobs);
    Table("innermost scheduler frame (else the outermost library's)", window, t => OurFrame(t.Frames), total, jobs);
    Table("type, at the innermost scheduler frame", window, t => t.Type + " ← " + OurFrame(t.Frames), total, jobs);
    Table("allocating site (innermost three frames outside System.*)", window, t => Site(t.Frames), total, jobs);

    // Inclusive: a frame anywhere on the stack, so the rows overlap.
    Console.WriteLine();
    Console.WriteLine("| anywhere on the allocating stack (rows overlap) | B per job | share |");
    Console.WriteLine("|---|---:|---:|");
    foreach (var (label, parts) in inclusive)
    {
        var bytes = window.Where(t => t.Frames.Any(f => parts.Any(p => f.Contains(p, StringComparison.Ordinal)))).Sum(t => t.Bytes);
        Console.WriteLine($"| {label} | {bytes / jobs:#,0} | {100.0 * bytes / total:0.0} % |");
    }
}

void Table(string title, List<Tick> window, Func<Tick, string> key, long total, double jobs)
{
    Console.WriteLine();
    Console.WriteLine($"| {title} | B per job | share |");
    Console.WriteLine("|---|---:|---:|");
    foreach (var g in window.GroupBy(key).Select(g => (g.Key, Bytes: g.Sum(t => t.Bytes))).OrderByDescending(g => g.Bytes).Take(top))
    {
        Console.WriteLine($"| {g.Key.Replace("|", "/", StringComparison.Ordinal)} | {g.Bytes / jobs:#,0} | {100.0 * g.Bytes / total:0.0} % |");
    }
}

// Innermost first. Generated protobuf code (Scheduler.Protos) is a message being built, not a hop: skipped.
static string OurFrame(IReadOnlyList<string> frames)
{
    foreach (var f in frames)
    {
        if (f.StartsWith("Scheduler.", StringComparison.Ordinal) && !f.StartsWith("Scheduler.Protos.", StringComparison.Ordinal))
        {
            return f;
        }
    }

    for (var i = frames.Count - 1; i >= 0; i--)
    {
        var f = frames[i];
        foreach (var library in (string[])["Orleans.", "Grpc.", "Microsoft.AspNetCore.", "Google.Protobuf", "StackExchange.Redis", "System.Net."])
        {
            if (f.StartsWith(library, StringComparison.Ordinal))
            {
                return "(outside our frames) " + library.TrimEnd('.');
            }
        }
    }

    return "(runtime)";
}

static string Site(IReadOnlyList<string> frames) =>
    string.Join(" ← ", frames.Where(f => !f.StartsWith("System.", StringComparison.Ordinal)).Take(3));

static List<string> Frames(TraceCallStack? stack)
{
    var frames = new List<string>();
    for (; stack is not null; stack = stack.Caller)
    {
        var name = stack.CodeAddress.FullMethodName;
        if (!string.IsNullOrEmpty(name))
        {
            frames.Add(name);
        }
    }

    return frames;
}

internal sealed record Tick(double AtMs, string Type, long Bytes, List<string> Frames);
