using System.Diagnostics;
using System.Text;
using Scheduler.Client;
using Scheduler.Policies.Prefix;
using Scheduler.Protos.V1;

namespace Scheduler.Bench.Prefix;

/// <summary>One turn as the client saw it: the usage's prompt and cached prompt tokens, what an oracle would have found
/// cached, and the time from submitting to the first token.</summary>
/// <param name="Conversation">The conversation.</param>
/// <param name="Turn">The turn, from 0.</param>
/// <param name="PromptTokens">The usage's prompt tokens (the scheduler's tokenizer).</param>
/// <param name="CachedPromptTokens">The usage's cached prompt tokens (the simulated engine's blocks).</param>
/// <param name="OracleCachedTokens">The previous turn's prompt (this one's longest prefix any earlier request sent) in
/// the simulated engine's full blocks: what an infinite cache with perfect routing would reuse, in the engine's units.</param>
/// <param name="TtftMs">From submitting to the first token, at the client.</param>
/// <param name="Error">How the job ended when it did not complete, else null.</param>
internal sealed record TurnResult(int Conversation, int Turn, int PromptTokens, int CachedPromptTokens, int OracleCachedTokens, double TtftMs, string? Error);

/// <summary>
/// Multi-turn conversations, each its own text: turn 1 sends a long first message; every later turn resends the whole
/// history (each earlier message and answer) plus a new user message, so its prompt extends the previous turn's. The
/// conversations start a fixed interval apart and run concurrently; within one, a turn is sent a think time after the
/// previous answer completed.
/// </summary>
internal static class MultiTurnWorkload
{
    public static async Task<List<TurnResult>> RunAsync(string address, PrefixBenchSettings settings, CancellationToken cancellationToken)
    {
        using var client = new SchedulerClient(address, LiveFleet.TenantKey);
        var conversations = Enumerable.Range(0, settings.Conversations).Select(async c =>
        {
            await Task.Delay(c * settings.StartIntervalMs, cancellationToken);
            return await ConverseAsync(client, c, settings, cancellationToken);
        });
        return [.. (await Task.WhenAll(conversations)).SelectMany(turns => turns)];
    }

    private static async Task<List<TurnResult>> ConverseAsync(SchedulerClient client, int conversation, PrefixBenchSettings settings, CancellationToken cancellationToken)
    {
        const int BlockChars = PromptBlocks.DefaultBlockTokens * PromptBlocks.CharsPerToken;
        var history = new StringBuilder();
        var results = new List<TurnResult>();
        var previousPromptChars = 0;
        for (var turn = 0; turn < settings.Turns; turn++)
        {
            history.Append("\nUser: ").Append(Message(conversation, turn, turn == 0 ? settings.FirstMessageChars : settings.UserMessageChars)).Append("\nAssistant: ");
            var request = new SubmitJobRequest
            {
                Model = LiveFleet.Model, Prompt = history.ToString(), MaxTokens = settings.AnswerTokens, SessionId = settings.Sessions ? $"conv-{conversation}" : "",
            };
            var (result, answer) = await SendAsync(client, request, conversation, turn, cancellationToken);
            results.Add(result with { OracleCachedTokens = previousPromptChars / BlockChars * PromptBlocks.DefaultBlockTokens });
            previousPromptChars = request.Prompt.Length;
            if (result.Error is not null)
            {
                break;
            }

            history.Append(answer);
            await Task.Delay(settings.ThinkMs, cancellationToken);
        }

        return results;
    }

    private static async Task<(TurnResult Result, string Answer)> SendAsync(
        SchedulerClient client, SubmitJobRequest request, int conversation, int turn, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        double? ttftMs = null;
        var answer = new StringBuilder();
        await foreach (var e in client.StreamAsync(request, cancellationToken: cancellationToken))
        {
            switch (e.EventCase)
            {
                case JobEvent.EventOneofCase.Tokens:
                    ttftMs ??= Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                    answer.Append(e.Tokens.Text);
                    break;
                case JobEvent.EventOneofCase.Completed:
                    var usage = e.Completed.Usage;
                    return (new TurnResult(conversation, turn, usage.PromptTokens, usage.CachedPromptTokens, 0, ttftMs ?? double.NaN, null), answer.ToString());
                case JobEvent.EventOneofCase.Failed or JobEvent.EventOneofCase.Cancelled or JobEvent.EventOneofCase.Expired:
                    return (new TurnResult(conversation, turn, 0, 0, 0, double.NaN, e.EventCase.ToString()), "");
            }
        }

        return (new TurnResult(conversation, turn, 0, 0, 0, double.NaN, "the stream ended before the job did"), "");
    }

    /// <summary>A message of <paramref name="chars"/> characters no other conversation or turn sends: words drawn from
    /// a generator seeded by the conversation and turn.</summary>
    private static string Message(int conversation, int turn, int chars)
    {
        var random = new Random((conversation * 1_000) + turn);
        var text = new StringBuilder(chars + 16);
        text.Append($"[c{conversation} t{turn}]");
        while (text.Length < chars)
        {
            text.Append(' ').Append((char)('a' + random.Next(26))).Append((char)('a' + random.Next(26))).Append(random.Next(1000));
        }

        return text.ToString(0, chars);
    }
}
