using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Scheduler.Policies.Profiles;
using Scheduler.Protos.V1;
using Scheduler.Tests.EndToEnd;
using Scheduler.Worker.Engines.Upstream;

namespace Scheduler.Tests.Worker.Upstream;

/// <summary>The upstream engine over real HTTP against <see cref="FaultyUpstream"/>, which plays recorded vLLM and Groq
/// streams and the failures a real server shows.</summary>
public sealed class UpstreamEngineTests : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    private readonly RecordingSink _sink = new();
    private readonly CancellationTokenSource _stop = new();
    private FaultyUpstream _upstream = null!;
    private UpstreamEngine? _engine;
    private Task? _loop;

    public async Task InitializeAsync() => _upstream = await FaultyUpstream.StartAsync();

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_loop is not null)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _loop);
        }

        await _upstream.DisposeAsync();
    }

    // xUnit calls it after DisposeAsync, once the step loop has ended.
    public void Dispose()
    {
        _engine?.Dispose();
        _stop.Dispose();
    }

    [Fact]
    public async Task Completion_StreamsTokensAsTheyArrive_ForwardsSampling_AndTakesTheUpstreamsUsage()
    {
        var rest = new TaskCompletionSource();
        _upstream.Respond = FaultyUpstream.Transcript(UpstreamTranscripts.VllmCompletion, rest.Task);
        var engine = Start();
        var spec = new SequenceSpec
        {
            SequenceId = "s1", Prompt = "The capital of France is", PromptTokens = 6, MaxTokens = 16,
            Temperature = 0.5f, TopP = 0.25f, Seed = 7, Stop = "\n", StopSequences = { "###" },
        };

        engine.Admit([spec]);
        await _sink.WaitUntilAsync(r => r.SelectMany(x => x.Tokens).Any(t => t.SequenceId == "s1"), Timeout);
        Assert.Equal((" Paris", null), (Outcome("s1").Text, Outcome("s1").Finished));
        rest.SetResult();
        var outcome = await FinishedAsync("s1");

        // Four chunks, five tokens by the upstream's usage: the one it did not split comes last, without text.
        Assert.Equal([" Paris", ", the", " capital", " of", ""], outcome.Tokens.Select(t => t.Text));
        Assert.Equal([0, 1, 2, 3, 4], outcome.Indexes);
        Assert.Equal((FinishReason.Length, 5, 6), (outcome.Finished!.Reason, outcome.Finished.CompletionTokens, outcome.Finished.PromptTokens));
        var call = Assert.Single(_upstream.Calls);
        Assert.Equal(("/v1/completions", "Bearer sk-test"), (call.Path, call.Authorization));
        var body = call.Body;
        Assert.Equal(("upstream-model", "The capital of France is", 16), (body.GetProperty("model").GetString(), body.GetProperty("prompt").GetString(), body.GetProperty("max_tokens").GetInt32()));
        Assert.True(body.GetProperty("stream").GetBoolean());
        Assert.True(body.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
        Assert.Equal((0.5, 0.25, 7UL), (body.GetProperty("temperature").GetDouble(), body.GetProperty("top_p").GetDouble(), body.GetProperty("seed").GetUInt64()));
        Assert.Equal(["\n", "###"], body.GetProperty("stop").EnumerateArray().Select(s => s.GetString()));
    }

    [Theory]
    [InlineData(9_223_372_036_854_775_808UL, long.MinValue)]
    [InlineData(ulong.MaxValue, -1L)]
    [InlineData(42UL, 42L)]
    public async Task Seed_AboveWhatOpenAisSignedSeedHolds_IsSentAsTheSame64Bits(ulong seed, long sent)
    {
        // A client drawing random 64-bit seeds: half of them are above 2^63 - 1, which an OpenAI-compatible server refuses.
        _upstream.Respond = FaultyUpstream.Transcript(UpstreamTranscripts.VllmCompletion);
        var engine = Start();

        engine.Admit([new SequenceSpec { SequenceId = "s1", Prompt = "The capital of France is", PromptTokens = 6, MaxTokens = 4, Seed = seed }]);
        await FinishedAsync("s1");

        Assert.Equal(sent, Assert.Single(_upstream.Calls).Body.GetProperty("seed").GetInt64());
    }

    [Fact]
    public async Task Chat_ForwardsTheMessagesToChatCompletions_AndReadsGroqsUsage()
    {
        _upstream.Respond = FaultyUpstream.Transcript(UpstreamTranscripts.GroqChat);
        var engine = Start();
        var spec = new SequenceSpec { SequenceId = "c1", Prompt = "rendered", MaxTokens = 10 };
        spec.Messages.Add(new ChatTurn { Role = "system", Content = "Be brief." });
        spec.Messages.Add(new ChatTurn { Role = "user", Content = "Greet the world." });

        engine.Admit([spec]);
        var outcome = await FinishedAsync("c1");

        Assert.Equal("Hello World!", outcome.Text);
        Assert.Equal([0, 1, 2, 3], outcome.Indexes);
        Assert.Equal((FinishReason.Stop, 4, 38), (outcome.Finished!.Reason, outcome.Finished.CompletionTokens, outcome.Finished.PromptTokens));
        var call = Assert.Single(_upstream.Calls);
        Assert.Equal("/v1/chat/completions", call.Path);
        Assert.Equal(
            [("system", "Be brief."), ("user", "Greet the world.")],
            call.Body.GetProperty("messages").EnumerateArray().Select(m => (m.GetProperty("role").GetString(), m.GetProperty("content").GetString())));
        Assert.False(call.Body.TryGetProperty("prompt", out _));
    }

    [Fact]
    public async Task ChatOnlyUpstream_GetsAPromptAsOneUserTurn()
    {
        _upstream.Respond = FaultyUpstream.Transcript(UpstreamTranscripts.VllmChat);
        var engine = Start(chatOnly: true);

        engine.Admit([new SequenceSpec { SequenceId = "p1", Prompt = "Say hi", MaxTokens = 8 }]);
        var outcome = await FinishedAsync("p1");

        Assert.Equal(("Hi there", FinishReason.Stop), (outcome.Text, outcome.Finished!.Reason));
        var call = Assert.Single(_upstream.Calls);
        Assert.Equal("/v1/chat/completions", call.Path);
        var turn = Assert.Single(call.Body.GetProperty("messages").EnumerateArray());
        Assert.Equal(("user", "Say hi"), (turn.GetProperty("role").GetString(), turn.GetProperty("content").GetString()));
    }

    [Fact]
    public async Task RateLimited_HandsTheSequenceBack_AndRejectsAdmissionsUntilRetryAfter()
    {
        _upstream.Respond = FaultyUpstream.Status(429, "Rate limit reached for model llama-3.3-70b-versatile", retryAfter: "30");
        var engine = Start();

        engine.Admit([Prompted("r1", 8)]);
        var first = await FinishedAsync("r1");
        engine.Admit([Prompted("r2", 8)]);
        var second = await FinishedAsync("r2");

        Assert.Equal((FinishReason.Rejected, 0), (first.Finished!.Reason, first.Finished.CompletionTokens));
        Assert.EndsWith("answered 429 Too Many Requests: Rate limit reached for model llama-3.3-70b-versatile", first.Finished.Error, StringComparison.Ordinal);

        // Refused while the replica is held, never sent: no room, not a failure of the job's.
        Assert.Equal((FinishReason.Rejected, ""), (second.Finished!.Reason, second.Finished.Error));
        Assert.Single(_upstream.Calls);
        Assert.Equal(2, _sink.Reports.Last().Capacity.RejectedAdmissions);
        Assert.Equal(0, engine.RunningSequences);
    }

    [Fact]
    public async Task ServerError_HandsTheSequenceBack_WithTheUpstreamsMessage()
    {
        _upstream.Respond = FaultyUpstream.Status(503, "the server is overloaded");
        var engine = Start();

        engine.Admit([Prompted("e1", 8)]);
        var outcome = await FinishedAsync("e1");

        Assert.Equal((FinishReason.Rejected, 0), (outcome.Finished!.Reason, outcome.Finished.CompletionTokens));
        Assert.Equal($"upstream {_upstream.BaseUri}v1/completions answered 503 Service Unavailable: the server is overloaded", outcome.Finished.Error);
        Assert.Empty(outcome.Tokens);
    }

    [Fact]
    public async Task StreamCutOffMidGeneration_HandsBackFromTheTokensDelivered()
    {
        var delivered = _sink.WaitUntilAsync(r => r.SelectMany(x => x.Tokens).Count(t => t.SequenceId == "b1") == 2, Timeout);
        _upstream.Respond = FaultyUpstream.CutAfter(UpstreamTranscripts.VllmCompletion, events: 2, cutWhen: delivered);
        var engine = Start();

        engine.Admit([Prompted("b1", 16)]);
        var outcome = await FinishedAsync("b1");

        Assert.Equal([" Paris", ", the"], outcome.Tokens.Select(t => t.Text));
        Assert.Equal((FinishReason.Rejected, 2), (outcome.Finished!.Reason, outcome.Finished.CompletionTokens));
        Assert.StartsWith($"upstream {_upstream.BaseUri} failed: ", outcome.Finished.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("abort")]
    [InlineData(null)]
    public async Task StreamEndingWithoutAFinishedCompletion_HandsBackFromTheTokensDelivered(string? finishReason)
    {
        // The vLLM transcript, its finish reason replaced: "abort" (the server gave up) or none at all before [DONE].
        var replaced = finishReason is null ? "null" : $"\"{finishReason}\"";
        _upstream.Respond = FaultyUpstream.Transcript(UpstreamTranscripts.VllmCompletion.Replace("\"finish_reason\":\"length\"", "\"finish_reason\":" + replaced, StringComparison.Ordinal));
        var engine = Start();

        engine.Admit([Prompted("a1", 16)]);
        var outcome = await FinishedAsync("a1");

        Assert.Equal([0, 1, 2, 3], outcome.Indexes);
        Assert.Equal((FinishReason.Rejected, 4), (outcome.Finished!.Reason, outcome.Finished.CompletionTokens));
    }

    [Fact]
    public async Task ErrorEventMidStream_HandsBackFromTheTokensDelivered()
    {
        _upstream.Respond = FaultyUpstream.Transcript(UpstreamTranscripts.VllmErrorMidStream);
        var engine = Start();

        engine.Admit([Prompted("m1", 16)]);
        var outcome = await FinishedAsync("m1");

        Assert.Equal(" Once", outcome.Text);
        Assert.Equal((FinishReason.Rejected, 1), (outcome.Finished!.Reason, outcome.Finished.CompletionTokens));
        Assert.Equal($"upstream {_upstream.BaseUri} failed mid-stream: The engine loop has stopped", outcome.Finished.Error);
    }

    [Fact]
    public async Task UnreachableUpstream_HandsTheSequenceBack_SayingWhy()
    {
        var closed = new Uri($"http://127.0.0.1:{FreePort.Next()}");
        var engine = Start(baseUri: closed);

        engine.Admit([Prompted("u1", 8)]);
        var outcome = await FinishedAsync("u1");

        Assert.Equal(FinishReason.Rejected, outcome.Finished!.Reason);
        Assert.StartsWith($"upstream {closed} failed: ", outcome.Finished.Error, StringComparison.Ordinal);
        Assert.Empty(outcome.Tokens);
    }

    [Fact]
    public async Task RefusedRequest_FailsWithTheUpstreamsMessage()
    {
        _upstream.Respond = FaultyUpstream.Status(400, "This model's maximum context length is 8192 tokens");
        var engine = Start();

        engine.Admit([Prompted("x1", 8)]);
        var outcome = await FinishedAsync("x1");

        Assert.Equal(FinishReason.Error, outcome.Finished!.Reason);
        Assert.Contains("400", outcome.Finished.Error, StringComparison.Ordinal);
        Assert.Contains("This model's maximum context length is 8192 tokens", outcome.Finished.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cancel_AbortsTheUpstreamRequest()
    {
        var aborted = new TaskCompletionSource();
        _upstream.Respond = FaultyUpstream.Hang(UpstreamTranscripts.VllmCompletion, aborted);
        var engine = Start();

        engine.Admit([Prompted("k1", 16)]);
        await _sink.WaitUntilAsync(r => r.SelectMany(x => x.Tokens).Any(t => t.SequenceId == "k1"), Timeout);
        engine.Cancel(["k1"], FinishReason.Cancelled);
        var outcome = await FinishedAsync("k1");
        await aborted.Task.WaitAsync(Timeout);

        Assert.Equal((FinishReason.Cancelled, 1), (outcome.Finished!.Reason, outcome.Finished.CompletionTokens));
        Assert.Equal(0, engine.RunningSequences);
    }

    [Fact]
    public async Task UpstreamThatNeverAnswers_HandsTheSequenceBack_AfterTheIdleTimeout_AndAbortsTheRequest()
    {
        // A hung server or a black-holing load balancer held the job running and its slot taken for good (an SRE probe).
        var aborted = new TaskCompletionSource();
        _upstream.Respond = FaultyUpstream.Silent(aborted);
        var engine = Start(idleTimeout: TimeSpan.FromSeconds(1));

        engine.Admit([Prompted("q1", 8)]);
        var outcome = await FinishedAsync("q1");
        await aborted.Task.WaitAsync(Timeout);

        Assert.Equal((FinishReason.Rejected, 0), (outcome.Finished!.Reason, outcome.Finished.CompletionTokens));
        Assert.Equal($"upstream {_upstream.BaseUri} sent nothing for 1 s (IdleTimeoutSeconds)", outcome.Finished.Error);
        Assert.Equal(0, engine.RunningSequences);
    }

    [Fact]
    public async Task UpstreamThatStallsMidStream_HandsBackFromTheTokensDelivered_AfterTheIdleTimeout()
    {
        var aborted = new TaskCompletionSource();
        _upstream.Respond = FaultyUpstream.Hang(UpstreamTranscripts.VllmCompletion, aborted);
        var engine = Start(idleTimeout: TimeSpan.FromSeconds(1));

        engine.Admit([Prompted("q2", 16)]);
        var outcome = await FinishedAsync("q2");
        await aborted.Task.WaitAsync(Timeout);

        Assert.Equal((FinishReason.Rejected, 1), (outcome.Finished!.Reason, outcome.Finished.CompletionTokens));
        Assert.EndsWith("sent nothing for 1 s (IdleTimeoutSeconds)", outcome.Finished.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Resume_SendsThePromptWithTheDeliveredText_AndAsksOnlyForTheRest()
    {
        _upstream.Respond = FaultyUpstream.Transcript(UpstreamTranscripts.VllmCompletion);
        var engine = Start();

        engine.Admit([new SequenceSpec { SequenceId = "s1", Prompt = "P:", PromptTokens = 2, MaxTokens = 6, ResumeFromToken = 2, ResumeText = " A B" }]);
        var outcome = await FinishedAsync("s1");

        var body = Assert.Single(_upstream.Calls).Body;
        Assert.Equal(("P: A B", 4), (body.GetProperty("prompt").GetString(), body.GetProperty("max_tokens").GetInt32()));
        Assert.Equal([2, 3, 4, 5], outcome.Indexes);
        Assert.Equal((FinishReason.Length, 6), (outcome.Finished!.Reason, outcome.Finished.CompletionTokens));
    }

    [Fact]
    public async Task ResumeOfAChat_RegeneratesAndDropsTheTokensDeliveredBefore()
    {
        _upstream.Respond = FaultyUpstream.Transcript(UpstreamTranscripts.GroqChat);
        var engine = Start();
        var spec = new SequenceSpec { SequenceId = "c2", MaxTokens = 10, ResumeFromToken = 2, Seed = 1 };
        spec.Messages.Add(new ChatTurn { Role = "user", Content = "Greet the world." });

        engine.Admit([spec]);
        var outcome = await FinishedAsync("c2");

        Assert.Equal(["!", ""], outcome.Tokens.Select(t => t.Text));
        Assert.Equal([2, 3], outcome.Indexes);
        Assert.Equal((FinishReason.Stop, 4), (outcome.Finished!.Reason, outcome.Finished.CompletionTokens));
        Assert.Equal(10, Assert.Single(_upstream.Calls).Body.GetProperty("max_tokens").GetInt32());
    }

    [Fact]
    public async Task ResumeOfAChat_CutBeforeItGotPastTheTokensDeliveredBefore_SaysItRegeneratedThem()
    {
        // The chat sends "Hello", " World", "!" and gives up ("abort"): all three were delivered by the earlier run.
        _upstream.Respond = FaultyUpstream.Transcript(UpstreamTranscripts.GroqChat.Replace("\"finish_reason\":\"stop\"", "\"finish_reason\":\"abort\"", StringComparison.Ordinal));
        var engine = Start();
        var spec = new SequenceSpec { SequenceId = "c3", MaxTokens = 10, ResumeFromToken = 3, Seed = 1 };
        spec.Messages.Add(new ChatTurn { Role = "user", Content = "Greet the world." });

        engine.Admit([spec]);
        var outcome = await FinishedAsync("c3");

        Assert.Empty(outcome.Tokens);
        Assert.Equal(FinishReason.Rejected, outcome.Finished!.Reason);
        Assert.Equal(
            $"upstream {_upstream.BaseUri} ended the completion after 3 tokens (3 of them regenerating the 3 delivered before, dropped) without finishing it (finish reason abort)",
            outcome.Finished.Error);
    }

    [Fact]
    public async Task MaxTokens_EndsTheSequenceAtItsLimit_WhateverTheUpstreamStillSends()
    {
        _upstream.Respond = FaultyUpstream.Transcript(UpstreamTranscripts.VllmCompletion);
        var engine = Start();

        engine.Admit([Prompted("l1", 2)]);
        var outcome = await FinishedAsync("l1");

        Assert.Equal([0, 1], outcome.Indexes);
        Assert.Equal((FinishReason.Length, 2), (outcome.Finished!.Reason, outcome.Finished.CompletionTokens));
    }

    [Fact]
    public async Task RequestsPerMinute_HoldsTheNextRequest_UntilTheLimitAllowsIt()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        _upstream.Respond = FaultyUpstream.Transcript(UpstreamTranscripts.VllmChat);
        var engine = Start(requestsPerMinute: 1, chatOnly: true, time: time);

        // Whichever of the two reserves first is sent; the other waits for the minute to refill.
        engine.Admit([Prompted("q1", 8), Prompted("q2", 8)]);
        await _sink.WaitUntilAsync(r => r.Sum(x => x.Finished.Count) == 1, Timeout);
        await Task.Delay(TimeSpan.FromMilliseconds(300));
        Assert.Single(_upstream.Calls);
        Assert.Equal(1, engine.RunningSequences);

        time.Advance(TimeSpan.FromMinutes(1));
        var first = await FinishedAsync("q1");
        var second = await FinishedAsync("q2");

        Assert.Equal(("Hi there", "Hi there", 2), (first.Text, second.Text, _upstream.Calls.Count));
    }

    [Fact]
    public async Task SequencesTheUpstreamCanNeverRun_FailWithoutARequest()
    {
        var engine = Start(tokensPerMinute: 1_000);

        engine.Admit([new SequenceSpec { SequenceId = "n1", PromptTokens = 10, MaxTokens = 8 }, Prompted("n2", 2_000)]);
        var lengthOnly = await FinishedAsync("n1");
        var tooBig = await FinishedAsync("n2");

        Assert.Equal(FinishReason.Error, lengthOnly.Finished!.Reason);
        Assert.Contains("only the prompt's length", lengthOnly.Finished.Error, StringComparison.Ordinal);
        Assert.Equal(FinishReason.Error, tooBig.Finished!.Reason);
        Assert.Contains("1,000 tokens per minute", tooBig.Finished.Error, StringComparison.Ordinal);
        Assert.Empty(_upstream.Calls);
    }

    private static SequenceSpec Prompted(string id, int maxTokens) => new() { SequenceId = id, Prompt = "Once upon a time", PromptTokens = 4, MaxTokens = maxTokens };

    private UpstreamEngine Start(
        int requestsPerMinute = 0, int tokensPerMinute = 0, bool chatOnly = false, Uri? baseUri = null, TimeProvider? time = null, TimeSpan? idleTimeout = null)
    {
        var settings = new UpstreamReplicaSettings(
            baseUri ?? _upstream.BaseUri, "upstream-model", "sk-test", requestsPerMinute, tokensPerMinute, chatOnly, TimeSpan.FromSeconds(5),
            idleTimeout ?? System.Threading.Timeout.InfiniteTimeSpan);
        var profile = AcceleratorProfiles.H100 with { MaxSequences = 4, KvCapacityTokens = 1_000_000 };
        _engine = new UpstreamEngine("n-h100-0/m", profile, settings, _sink, time ?? TimeProvider.System, NullLogger<UpstreamEngine>.Instance);
        _loop = _engine.RunAsync(_stop.Token);
        return _engine;
    }

    private SequenceOutcome Outcome(string id) => SequenceOutcome.Of(id, _sink.Reports);

    private async Task<SequenceOutcome> FinishedAsync(string id)
    {
        await _sink.WaitUntilAsync(r => r.SelectMany(x => x.Finished).Any(f => f.SequenceId == id), Timeout);
        return Outcome(id);
    }
}
