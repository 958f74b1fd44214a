using Scheduler.Policies.Placement;
using Scheduler.Policies.Prefix;
using Scheduler.Policies.Profiles;
using Scheduler.Simulator.Metrics;

namespace Scheduler.Simulator.Workload;

/// <summary>
/// Workloads whose prompts share prefixes, as <see cref="KvTraceRow"/>s (blocks of
/// <see cref="PromptBlocks.TraceBlockTokens"/> tokens, one id per distinct block), each with its parameters stated in
/// <see cref="PrefixWorkloadSettings"/> and seeded: multi-turn chats that resend their whole history each turn, tenants
/// whose requests share a long system prompt, and agents making many short calls on one long, growing context.
/// Arrivals are open-loop: a next turn or call comes a set time after the last, whatever its latency.
/// </summary>
internal static class PrefixWorkloads
{
    public static IReadOnlyList<string> Names { get; } = ["multi-turn", "system-prompt", "agent"];

    /// <summary>The rows of the workload named <paramref name="name"/> (one of <see cref="Names"/>).</summary>
    public static IReadOnlyList<KvTraceRow> Rows(string name, PrefixWorkloadSettings settings) => name switch
    {
        "multi-turn" => MultiTurn(settings),
        "system-prompt" => SystemPrompt(settings),
        "agent" => Agent(settings),
        _ => throw new ArgumentException($"Unknown prefix workload '{name}'. Known: {string.Join(", ", Names)}.", nameof(name)),
    };

    /// <summary>Conversations start as a Poisson process; turn k's prompt is the first message plus k × (answer + next
    /// user message), so each turn resends the previous turn's prompt and answer.</summary>
    public static IReadOnlyList<KvTraceRow> MultiTurn(PrefixWorkloadSettings s)
    {
        var random = new Random(s.Seed);
        var ids = new BlockIds();
        var rows = new List<KvTraceRow>();
        var start = 0.0;
        for (var c = 0; c < s.Conversations; c++)
        {
            start += Exponential(random, 1000.0 / s.ConversationsPerSecond);
            var history = s.FirstMessageTokens;
            var at = start;
            for (var turn = 0; turn < s.Turns; turn++)
            {
                rows.Add(new KvTraceRow(at, history, s.AnswerTokens, ids.Of($"chat-{c}", history), $"chat-{c}"));
                history += s.AnswerTokens + s.UserMessageTokens;
                at += Exponential(random, s.ThinkSeconds * 1000);
            }
        }

        return Sorted(rows);
    }

    /// <summary>Each tenant's requests begin with its own system prompt, followed by a unique user message of uniform
    /// length; requests arrive as one Poisson process, tenants drawn uniformly.</summary>
    public static IReadOnlyList<KvTraceRow> SystemPrompt(PrefixWorkloadSettings s)
    {
        var random = new Random(s.Seed);
        var ids = new BlockIds();
        var rows = new List<KvTraceRow>();
        var at = 0.0;
        for (var i = 0; i < s.SystemPromptRequests; i++)
        {
            at += Exponential(random, 1000.0 / s.SystemPromptRequestsPerSecond);
            var tenant = random.Next(s.SystemPromptTenants);
            var user = random.Next(s.UserMessageTokens / 2, (s.UserMessageTokens * 3 / 2) + 1);
            var system = ids.Of($"system-{tenant}", s.SystemPromptTokens);
            var own = ids.Of($"request-{i}", user, skipBlocks: system.Length, total: s.SystemPromptTokens + user);
            rows.Add(new KvTraceRow(at, s.SystemPromptTokens + user, s.AnswerTokens, [.. system, .. own], $"tenant-{tenant}"));
        }

        return Sorted(rows);
    }

    /// <summary>Agents start as a Poisson process; each makes calls on a context that starts long (tools and task) and
    /// grows by the previous call's output and a tool result per call.</summary>
    public static IReadOnlyList<KvTraceRow> Agent(PrefixWorkloadSettings s)
    {
        var random = new Random(s.Seed);
        var ids = new BlockIds();
        var rows = new List<KvTraceRow>();
        var start = 0.0;
        for (var a = 0; a < s.Agents; a++)
        {
            start += Exponential(random, 1000.0 / s.AgentsPerSecond);
            var context = s.AgentContextTokens;
            var at = start;
            for (var call = 0; call < s.AgentCalls; call++)
            {
                rows.Add(new KvTraceRow(at, context, s.AgentOutputTokens, ids.Of($"agent-{a}", context), $"agent-{a}"));
                context += s.AgentOutputTokens + s.ToolResultTokens;
                at += s.AgentCallGapSeconds * 1000;
            }
        }

        return Sorted(rows);
    }

    /// <summary>The ids of the row's whole blocks: a trace names its prompt's trailing partial block too (Mooncake's give
    /// ⌈input_length / 512⌉ ids), but a partial block is never cached (<see cref="PromptBlocks"/>, as in vLLM), so two
    /// equal prompts share only their whole blocks — the partial one counted, a repeated prompt read as cached to its last
    /// token but one.</summary>
    private static long[] WholeBlocks(KvTraceRow row)
    {
        var whole = row.WholeBlocks();
        return row.HashIds.Length > whole ? row.HashIds[..whole] : row.HashIds;
    }

    /// <summary>Whether the rows of the built-in workload named <paramref name="name"/> name their conversation (or agent)
    /// as session: the system prompt's rows name their tenant, whose requests are not turns of one context.</summary>
    public static bool NamesSessions(string name) => name != "system-prompt";

    /// <summary>The requests of <paramref name="rows"/> at <paramref name="rateFactor"/> times their rate, one tenant per
    /// session (all in one when a row names none), each with the TTFT objective its prompt length gets; each carries its
    /// row's session when <paramref name="sessions"/> (the rows name conversations, not only tenants).</summary>
    public static Workload ToWorkload(string name, IReadOnlyList<KvTraceRow> rows, double rateFactor = 1, bool sessions = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(rateFactor, 0);
        var requests = rows.Select((r, i) => new SimRequest(
            $"{name}-{i}", TenantOf(r), r.TimestampMs / rateFactor, r.InputLength, r.OutputLength, TtftObjective.For(r.InputLength),
            PromptBlocks.FromBlockIds(WholeBlocks(r)), sessions ? r.SessionId : null)).ToList();
        var weights = requests.Select(r => r.TenantId).Distinct().ToDictionary(t => t, _ => 1.0);
        return new Workload(name, requests, weights);
    }

    /// <summary>The prompt tokens an oracle would find cached (an infinite cache every request could use: each prompt
    /// reuses the longest prefix of blocks any earlier request sent), over all prompt tokens.</summary>
    public static double OracleHitRate(IReadOnlyList<SimRequest> requests)
    {
        var prompt = requests.Sum(r => (long)r.PromptTokens);
        return prompt == 0 ? 0 : OracleCachedTokens(requests).Values.Sum(t => (long)t) / (double)prompt;
    }

    /// <summary>
    /// The 90th percentile of the first token an oracle would give each request: alone on the fastest accelerator of
    /// <paramref name="profiles"/>, prefilling only what the oracle's cache lacks (<see cref="OracleHitRate"/>), a step
    /// budget at a time. No placement on that fleet does better, so a p90 below a fifth of this baseline's is out of
    /// anyone's reach.
    /// </summary>
    public static double IdealTtftP90Ms(IReadOnlyList<SimRequest> requests, IReadOnlyCollection<AcceleratorProfile> profiles)
    {
        var cached = OracleCachedTokens(requests);
        // At least the last prompt token is always computed, for its logits.
        return Percentiles.Of(Percentiles.Sorted(requests.Select(r => profiles.Min(p => ReplicaPrediction.IdleTtftMs(p, Math.Max(1, r.PromptTokens - cached[r.Id]))))), 90);
    }

    // Each request's prompt tokens the oracle's cache holds, by request id.
    private static Dictionary<string, int> OracleCachedTokens(IReadOnlyList<SimRequest> requests)
    {
        var seen = new HashSet<ulong>();
        var cached = new Dictionary<string, int>(requests.Count, StringComparer.Ordinal);
        foreach (var request in requests.OrderBy(r => r.ArrivalMs))
        {
            if (request.Blocks is not { } blocks)
            {
                cached[request.Id] = 0;
                continue;
            }

            var matched = 0;
            while (matched < blocks.Count && seen.Contains(blocks.Hashes[matched]))
            {
                matched++;
            }

            cached[request.Id] = blocks.CachedTokens(matched, request.PromptTokens);
            foreach (var hash in blocks.Hashes)
            {
                seen.Add(hash);
            }
        }

        return cached;
    }

    // A conversation's tenant is its own: fairness then treats every chat alike, as tenants of equal weight. The session
    // rides on the request but reaches the placement only where the policy places by session: the dispatcher's session
    // affinity applies before any policy, so the load-only baselines would stop being load-only.
    private static string TenantOf(KvTraceRow row) => row.SessionId ?? "tenant-0";

    private static double Exponential(Random random, double meanMs) => -meanMs * Math.Log(1 - random.NextDouble());

    private static List<KvTraceRow> Sorted(List<KvTraceRow> rows)
    {
        rows.Sort((a, b) => a.TimestampMs.CompareTo(b.TimestampMs));
        return rows;
    }

    /// <summary>Ids of full blocks: block j of a source's text is the same block wherever that text is resent.</summary>
    private sealed class BlockIds
    {
        private readonly Dictionary<(string Source, int Block), long> _ids = [];

        /// <summary>The ids of the full blocks of <paramref name="tokens"/> tokens of <paramref name="source"/>'s text;
        /// with <paramref name="skipBlocks"/>, of the full blocks of a <paramref name="total"/>-token prompt from there on.</summary>
        public long[] Of(string source, int tokens, int skipBlocks = 0, int? total = null)
        {
            var count = ((total ?? tokens) / PromptBlocks.TraceBlockTokens) - skipBlocks;
            var ids = new long[Math.Max(0, count)];
            for (var j = 0; j < ids.Length; j++)
            {
                var key = (source, j);
                if (!_ids.TryGetValue(key, out var id))
                {
                    _ids.Add(key, id = _ids.Count);
                }

                ids[j] = id;
            }

            return ids;
        }
    }
}

/// <summary>The prefix workloads' parameters; the defaults are the ones docs/benchmarks.md reports.</summary>
internal sealed record PrefixWorkloadSettings
{
    public int Seed { get; init; } = 7;

    // Multi-turn chat: 600 conversations starting at 5 a second, 6 turns each, 20 s between turns.
    public int Conversations { get; init; } = 600;
    public double ConversationsPerSecond { get; init; } = 5;
    public int Turns { get; init; } = 6;
    public int FirstMessageTokens { get; init; } = 2_048;
    public int UserMessageTokens { get; init; } = 256;
    public int AnswerTokens { get; init; } = 200;
    public double ThinkSeconds { get; init; } = 20;

    // Shared system prompts: 8 tenants, a 3,072-token system prompt each, 30 requests a second.
    public int SystemPromptTenants { get; init; } = 8;
    public int SystemPromptTokens { get; init; } = 3_072;
    public int SystemPromptRequests { get; init; } = 4_000;
    public double SystemPromptRequestsPerSecond { get; init; } = 30;

    // Agent loops: 300 agents starting at 2 a second, 12 calls each, 1.5 s apart, on a 4,096-token context.
    public int Agents { get; init; } = 300;
    public double AgentsPerSecond { get; init; } = 2;
    public int AgentCalls { get; init; } = 12;
    public int AgentContextTokens { get; init; } = 4_096;
    public int AgentOutputTokens { get; init; } = 64;
    public int ToolResultTokens { get; init; } = 192;
    public double AgentCallGapSeconds { get; init; } = 1.5;
}
