using Scheduler.Bench.Harness;

namespace Scheduler.Bench.Prefix;

/// <summary>The run's parameters, from <c>--name value</c> pairs.</summary>
/// <param name="Policies">Placement policies, each measured on a fresh silo and fresh workers (cold caches).</param>
/// <param name="Conversations">Conversations, started <see cref="StartIntervalMs"/> apart.</param>
/// <param name="Turns">Turns per conversation; each resends the whole history.</param>
/// <param name="FirstMessageChars">The first user message's length (4 characters a token for the simulated engine).</param>
/// <param name="UserMessageChars">Each later user message's length.</param>
/// <param name="AnswerTokens">max_tokens of every turn.</param>
/// <param name="StartIntervalMs">Between conversation starts.</param>
/// <param name="ThinkMs">Between an answer and the next turn of its conversation.</param>
/// <param name="Nodes">Worker node processes.</param>
/// <param name="ReplicasPerNode">Accelerators (replicas) per node.</param>
/// <param name="Product">Their accelerator product (the simulated engine's profile).</param>
/// <param name="Configuration">The build configuration of the silo and worker assemblies to run.</param>
/// <param name="OutPath">Where the Markdown results go.</param>
/// <param name="Sessions">Whether each conversation names its session (<c>session_id</c> "conv-&lt;n&gt;"), so the
/// dispatcher's session affinity, its wait for a full replica and cost-aware's session term apply.</param>
internal sealed record PrefixBenchSettings(
    string[] Policies,
    int Conversations,
    int Turns,
    int FirstMessageChars,
    int UserMessageChars,
    int AnswerTokens,
    int StartIntervalMs,
    int ThinkMs,
    int Nodes,
    int ReplicasPerNode,
    string Product,
    string Configuration,
    string OutPath,
    bool Sessions)
{
    public static PrefixBenchSettings Parse(string[] args)
    {
        var arguments = new NamedArguments(args);
        var settings = new PrefixBenchSettings(
            arguments.Text("policies", "cost-aware,prefix-only,least-outstanding").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            arguments.Int("conversations", 32, 1),
            arguments.Int("turns", 5, 1),
            arguments.Int("first-message-chars", 4096, 1),
            arguments.Int("user-message-chars", 512, 1),
            arguments.Int("answer-tokens", 32, 1),
            arguments.Int("start-interval-ms", 250, 0),
            arguments.Int("think-ms", 500, 0),
            arguments.Int("nodes", 2, 1),
            arguments.Int("replicas-per-node", 2, 1),
            arguments.Text("product", "L4"),
            arguments.Text("configuration", "Release"),
            arguments.Text("out", "bench/results/prefix-live.md"),
            arguments.Text("sessions", "false") switch
            {
                "true" => true,
                "false" => false,
                var other => throw new ArgumentException($"--sessions must be true or false, got \"{other}\""),
            });
        return arguments.AllTaken(settings);
    }
}
