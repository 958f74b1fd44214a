using System.Globalization;
using Scheduler.Testing;

namespace Scheduler.Bench.Llama;

/// <summary>What one run does: <see cref="Jobs"/> jobs submitted at once to one llama replica of
/// <see cref="Slots"/> slots whose decode calls use <see cref="Threads"/> CPU threads.</summary>
internal sealed record LlamaBenchSettings
{
    /// <summary>The model shapes the bench can write, by name.</summary>
    public static readonly IReadOnlyDictionary<string, ModelShape> Shapes = new Dictionary<string, ModelShape>
    {
        ["tiny"] = TinyGguf.Tiny,
        ["wide"] = TinyGguf.Wide,
        ["large"] = TinyGguf.Large,
    };

    public int Jobs { get; init; } = 64;

    public int Slots { get; init; } = 16;

    /// <summary>One thread: the machine has two cores, and the silo, the node and the client need the other.</summary>
    public int Threads { get; init; } = 1;

    /// <summary>"tiny" (the tests' model, <see cref="TinyGguf.Tiny"/>), "wide" (<see cref="TinyGguf.Wide"/>) or
    /// "large" (<see cref="TinyGguf.Large"/>, whose small-batch decode is bound by reading its weights on this CPU).</summary>
    public string Model { get; init; } = "tiny";

    public ModelShape Shape => Shapes[Model];

    /// <summary>Whether the replica's slots share one KV cache (<c>Worker:Model:KvUnified</c>) instead of one stream each.</summary>
    public bool KvUnified { get; init; }

    /// <summary>llama.cpp's flash attention (<c>Worker:Model:FlashAttention</c>): null lets llama.cpp choose.</summary>
    public bool? FlashAttention { get; init; }

    /// <summary>Admissions the replica holds beyond its slots (<c>Worker:Model:QueueAhead</c>, default 1): what the
    /// scheduler path gains by not waiting for the scheduler's next admission when a slot frees. The direct paths admit
    /// themselves and hold none.</summary>
    public int QueueAhead { get; init; } = new Scheduler.Worker.Hosting.LlamaModelOptions().QueueAhead;

    /// <summary>The hard bound on the whole run, in minutes: whatever hangs, the process ends. The large model needs
    /// more than the default on a loaded machine.</summary>
    public int LimitMinutes { get; init; } = 10;

    /// <summary>Where the markdown goes; a relative path is taken from the repository root.</summary>
    public string OutPath { get; init; } = Path.Combine("bench", "results", "llama-latest.md");

    /// <summary>Parses <c>--jobs N</c>, <c>--slots N</c>, <c>--threads N</c>, <c>--model tiny|wide|large</c>, <c>--kv-unified true|false</c>,
    /// <c>--flash-attention auto|true|false</c>, <c>--queue-ahead N</c> (0 or more), <c>--limit-minutes N</c> and <c>--out PATH</c>.
    /// Anything else is an error.</summary>
    public static LlamaBenchSettings Parse(string[] args)
    {
        var settings = new LlamaBenchSettings();
        for (var i = 0; i < args.Length; i += 2)
        {
            var name = args[i];
            var value = i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"option '{name}' needs a value");
            settings = name switch
            {
                "--jobs" => settings with { Jobs = Positive(name, value) },
                "--slots" => settings with { Slots = Positive(name, value) },
                "--threads" => settings with { Threads = Positive(name, value) },
                "--model" => settings with { Model = Shapes.ContainsKey(value) ? value : throw new ArgumentException($"option '--model' is one of {string.Join(", ", Shapes.Keys)}, not '{value}'") },
                "--kv-unified" => settings with { KvUnified = bool.TryParse(value, out var unified) ? unified : throw new ArgumentException($"option '--kv-unified' is true or false, not '{value}'") },
                "--flash-attention" => settings with
                {
                    FlashAttention = value == "auto" ? null : bool.TryParse(value, out var flash) ? flash : throw new ArgumentException($"option '--flash-attention' is auto, true or false, not '{value}'"),
                },
                "--queue-ahead" => settings with
                {
                    QueueAhead = int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var ahead) && ahead >= 0
                        ? ahead
                        : throw new ArgumentException($"option '--queue-ahead' needs a whole number, 0 or more, got '{value}'"),
                },
                "--limit-minutes" => settings with { LimitMinutes = Positive(name, value) },
                "--out" => settings with { OutPath = value },
                _ => throw new ArgumentException($"unknown option '{name}' (known: --jobs, --slots, --threads, --model, --kv-unified, --flash-attention, --queue-ahead, --limit-minutes, --out)"),
            };
        }

        return settings;
    }

    private static int Positive(string name, string value) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new ArgumentException($"option '{name}' needs a positive whole number, got '{value}'");
}
