using System.Globalization;
using Scheduler.Bench.Harness;
using Scheduler.Bench.SchedulerPath;

namespace Scheduler.Bench;

/// <summary>
/// What one run does. The defaults keep a whole run well under two minutes on the 2-core machine; every count
/// and duration is fixed, so the run ends by itself.
/// </summary>
internal sealed record BenchSettings
{
    /// <summary>Sequential warm-up calls of each path, sized so that both run hot code when measured: .NET compiles a method
    /// quickly first and again, optimised with its profile, only once it has been called often and the process has
    /// stopped compiling new ones. With 200 warm-up jobs and 2 s of concurrent warm-up the concurrent window still ran
    /// partly unoptimised code (2026-12-04: 2,000 warm-up jobs or 10 s of warm-up doubled the one-tenant jobs/s and
    /// halved its CPU per job; docs/benchmarks.md, step 10). The echo gets ten calls per job: about as many seconds.</summary>
    public int EchoWarmUpCalls { get; init; } = 20_000;

    public int EchoSequentialCalls { get; init; } = 2_000;

    /// <summary>About the size of the scheduler's request with 128 token ids, so both paths carry similar requests.</summary>
    public int EchoPayloadBytes { get; init; } = 256;

    /// <summary>Sequential jobs before anything is measured (<c>--warm-up-jobs</c>): fewer when each job is long (a paced
    /// engine, many output tokens), or the warm-up alone outlasts the run's bound.</summary>
    public int JobWarmUp { get; init; } = 2_000;

    public int JobSequential { get; init; } = 500;

    /// <summary>Sequential SubmitJob and GetJob calls that split the time to first token (see FrontDoorProbes).</summary>
    public int ProbeCalls { get; init; } = 300;

    public int PromptTokens { get; init; } = 128;

    /// <summary>"full" (echo baseline and the scheduler path), "openai" (time to first token through the OpenAI-compatible
    /// HTTP API against the gRPC API, in the same run: see OpenAiComparison) or "idempotency" (keyed submissions once
    /// the tenant holds many keys: see IdempotencyBenchmark).</summary>
    public string Mode { get; init; } = "full";

    public int MaxTokens { get; init; } = 16;

    /// <summary>Keys the tenant is given before keyed submissions are timed (<c>--mode idempotency</c>): the default bound
    /// of keys a tenant kept before keys were stored one by one.</summary>
    public int IdempotencyKeys { get; init; } = 10_000;

    /// <summary>The silo's placement policy (Scheduler:Scheduling:PlacementPolicy). Not the default cost-aware one: it
    /// packs every job onto the replica whose batch makes it cheapest, so with an instant engine all the concurrent streams
    /// land on one replica and the figure measures that replica's engine loop, not the scheduler. least-outstanding
    /// spreads them over the three replicas; <c>--placement cost-aware</c> measures the packing.</summary>
    public string Placement { get; init; } = "least-outstanding";

    /// <summary>When set (host:port of a redis-server), the silo runs in Redis mode: Redis membership, grain state
    /// and job journal, under a fresh service id per run.</summary>
    public string? Redis { get; init; }

    /// <summary>The embedded engines' speed (Scheduler:EmbeddedFleet:SpeedUp): "instant" (the default: steps take no time,
    /// so the run measures the scheduler alone) or a factor of the accelerator profiles' speed. A paced engine shows what
    /// a job costs when its tokens come one step at a time, as from a real one.</summary>
    public string SpeedUp { get; init; } = "instant";

    /// <summary>How the silo reaches the embedded nodes' execution streams: "in-process" (the embedded default) or
    /// "grpc" (over loopback sockets, as it reaches remote nodes: the production path's two extra network legs).</summary>
    public string NodeLinks { get; init; } = EmbeddedSilo.InProcessLinks;

    /// <summary>The silo's Scheduler:TokenStreamIntervalMilliseconds (<c>--token-interval MS</c>): 0, the default, streams
    /// every step's tokens as they come.</summary>
    public int TokenIntervalMs { get; init; }

    public int Callers { get; init; } = 64;

    /// <summary>The StreamJobs calls the multiplexed window's <see cref="Callers"/> share (their jobs round robin over them).</summary>
    public int MultiplexedStreams { get; init; } = 4;

    /// <summary>Each concurrent window's warm-up (its calls are not counted), for both paths: see <see cref="EchoWarmUpCalls"/>.</summary>
    public TimeSpan WarmUp { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Where the markdown goes; a relative path is taken from the repository root (dotnet run starts
    /// the program in the project's directory, not where the command was typed).</summary>
    public string OutPath { get; init; } = Path.Combine("bench", "results", "latest.md");

    public string ResolvedOutPath => RepositoryPaths.Resolve(OutPath);

    /// <summary>Parses <c>--out PATH</c>, <c>--duration SECONDS</c>, <c>--callers N</c>, <c>--streams N</c>, <c>--jobs N</c>,
    /// <c>--warm-up-jobs N</c>, <c>--token-interval MS</c>, <c>--echo-calls N</c>, <c>--warm-up SECONDS</c>, <c>--max-tokens N</c>, <c>--mode full|openai|idempotency</c>, <c>--keys N</c>, <c>--redis HOST:PORT</c>, <c>--placement POLICY</c>, <c>--speedup instant|FACTOR</c>, <c>--links in-process|grpc</c> (also in <c>--name=value</c> form). Anything else is an error, not silently ignored.</summary>
    public static BenchSettings Parse(string[] args)
    {
        var settings = new BenchSettings();
        for (var i = 0; i < args.Length; i++)
        {
            var (name, value) = Split(args, ref i);
            settings = name switch
            {
                "--out" => settings with { OutPath = value },
                "--duration" => settings with { Duration = TimeSpan.FromSeconds(Positive(name, value)) },
                "--warm-up" => settings with { WarmUp = TimeSpan.FromSeconds(Positive(name, value)) },
                "--max-tokens" => settings with { MaxTokens = Positive(name, value) },
                "--callers" => settings with { Callers = Positive(name, value) },
                "--streams" => settings with { MultiplexedStreams = Positive(name, value) },
                "--jobs" => settings with { JobSequential = Positive(name, value) },
                "--warm-up-jobs" => settings with { JobWarmUp = Positive(name, value) },
                "--token-interval" => settings with { TokenIntervalMs = NotNegative(name, value) },
                "--echo-calls" => settings with { EchoSequentialCalls = Positive(name, value) },
                "--keys" => settings with { IdempotencyKeys = Positive(name, value) },
                "--redis" => settings with { Redis = value },
                "--placement" => settings with { Placement = value },
                "--speedup" when value == "instant" || double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var f) && f > 0 => settings with { SpeedUp = value },
                "--speedup" => throw new ArgumentException($"option '--speedup' is 'instant' or a positive factor, got '{value}'"),
                "--links" when value is EmbeddedSilo.InProcessLinks or "grpc" => settings with { NodeLinks = value },
                "--links" => throw new ArgumentException($"option '--links' is '{EmbeddedSilo.InProcessLinks}' or 'grpc', got '{value}'"),
                "--mode" when value is "full" or "openai" or "idempotency" => settings with { Mode = value },
                "--mode" => throw new ArgumentException($"option '--mode' is 'full', 'openai' or 'idempotency', got '{value}'"),
                _ => throw new ArgumentException($"unknown option '{name}' (known: --out, --duration, --warm-up, --max-tokens, --callers, --streams, --jobs, --warm-up-jobs, --token-interval, --echo-calls, --mode, --keys, --redis, --placement, --speedup, --links)"),
            };
        }

        return settings;
    }

    private static (string Name, string Value) Split(string[] args, ref int i)
    {
        var arg = args[i];
        var eq = arg.IndexOf('=', StringComparison.Ordinal);
        if (eq > 0)
        {
            return (arg[..eq], arg[(eq + 1)..]);
        }

        if (i + 1 >= args.Length)
        {
            throw new ArgumentException($"option '{arg}' needs a value");
        }

        return (arg, args[++i]);
    }

    private static int Positive(string name, string value) => AtLeast(name, value, 1, "a positive whole number");

    private static int NotNegative(string name, string value) => AtLeast(name, value, 0, "a whole number, 0 or more");

    private static int AtLeast(string name, string value, int least, string what) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= least
            ? n
            : throw new ArgumentException($"option '{name}' needs {what}, got '{value}'");
}
