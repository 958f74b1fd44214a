using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;
using OpenAI;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;
using Scheduler.Silo.Hosting;
using Scheduler.Protos.V1;
using Scheduler.Tests.EndToEnd.Hostile;

namespace Scheduler.Tests.EndToEnd.OpenAi;

/// <summary>The OpenAI-compatible API driven by the official OpenAI .NET SDK against the live silo and its worker nodes
/// (separate processes); each answer is checked against the job the gRPC API reports for the same id. The SDK has a
/// typed client for chat completions only; completions go through its pipeline (its authentication, transport and
/// errors), as its own protocol methods do.</summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed class OpenAiDotnetSdkTests(SchedulerCluster cluster)
{
    private static readonly string[] FiveStops = ["a", "b", "c", "d", "e"];

    private OpenAIClientOptions Options() => new()
    {
        Endpoint = new Uri(cluster.OpenAiAddress + "/v1"),

        // The SDK retries 429 and 5xx by itself; these tests look at the first answer.
        RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
    };

    private SdkCompletions Completions(string key) => new(new OpenAIClient(new ApiKeyCredential(key), Options()), new Uri(cluster.OpenAiAddress + "/v1/completions"));

    private ChatClient Chat(string key, string model = SchedulerCluster.Model) => new(model, new ApiKeyCredential(key), Options());

    [Fact]
    public async Task Completion_NotStreamed_ReturnsTheJobsOutputAndUsage_UnderTheJobsId()
    {
        var body = await CreateCompletion(Completions(SchedulerCluster.Tenants[0].Key), new { model = SchedulerCluster.Model, prompt = "Tell me a story", max_tokens = 12 });

        var root = body.RootElement;
        Assert.Equal("text_completion", root.GetProperty("object").GetString());
        var job = await GetJob(root.GetProperty("id").GetString()!);
        Assert.Equal(JobStatus.Completed, job.Status);
        var choice = root.GetProperty("choices")[0];
        Assert.Equal(job.Output, choice.GetProperty("text").GetString());
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(12, root.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(job.PromptTokens, root.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(job.PromptTokens + 12, root.GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task Completion_RepeatedPrompt_ReportsCachedTokensInPromptTokensDetails()
    {
        var client = Completions(SchedulerCluster.Tenants[2].Key);
        var prompt = Guid.NewGuid().ToString("N") + string.Concat(Enumerable.Repeat(" the same long instructions", 80));

        var first = (await CreateCompletion(client, new { model = SchedulerCluster.Model, prompt, max_tokens = 2 })).RootElement;
        var again = (await CreateCompletion(client, new { model = SchedulerCluster.Model, prompt, max_tokens = 2 })).RootElement;

        static int Cached(JsonElement answer) => answer.GetProperty("usage").GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32();
        Assert.Equal(0, Cached(first));
        Assert.True(Cached(again) > 0, again.GetRawText());
        var job = await GetJob(again.GetProperty("id").GetString()!);
        Assert.Equal(job.Usage.CachedPromptTokens, Cached(again));
    }

    [Fact]
    public async Task Completion_Streamed_SendsTheTokens_ThenFinishReason_ThenUsage_ThenDone()
    {
        var client = Completions(SchedulerCluster.Tenants[1].Key);
        var request = new
        {
            model = SchedulerCluster.Model, prompt = "Count to forty", max_tokens = 40, stream = true, stream_options = new { include_usage = true },
        };
        using var response = await client.Send(request, stream: true);
        Assert.Equal("text/event-stream", response.Headers.TryGetValue("Content-Type", out var type) ? type : null);
        Assert.True(response.Headers.TryGetValue("x-scheduler-job-id", out var jobId));

        var events = new List<string>();
        await foreach (var item in SseParser.Create(response.ContentStream!).EnumerateAsync())
        {
            events.Add(item.Data);
        }

        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.All(chunks, c => Assert.Equal(jobId, c.GetProperty("id").GetString()));
        var usage = chunks[^1];
        Assert.Empty(usage.GetProperty("choices").EnumerateArray());
        Assert.Equal(40, usage.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        var texts = chunks[..^1];
        Assert.Equal("length", texts[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.All(texts, c => Assert.Equal(JsonValueKind.Null, c.GetProperty("usage").ValueKind));

        var job = await GetJob(jobId!);
        Assert.Equal(job.Output, string.Concat(texts.Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString())));
    }

    [Fact]
    public async Task Completion_Streamed_ATokenThatComesLater_GoesOutAsItComes_InAChunkOfItsOwn()
    {
        // Scripted, so the second token comes only once the client holds the first: the first cannot wait for it or
        // for the job's end (a stream that did would time out here), and how fast the engine ran cannot merge them
        // (tokens already waiting together may go out in one chunk: on a loaded CI the simulated engine's 40 did).
        await using var node = await FakeWorkerNode.StartRegisteredAsync(cluster, "openai-chunks", SchedulerCluster.ScriptedModel);
        var client = Completions(SchedulerCluster.Tenants[0].Key);
        var sending = client.Send(new { model = SchedulerCluster.ScriptedModel, prompt = "Two steps", max_tokens = 8, stream = true }, stream: true);
        var jobId = (await node.NextAdmit(TimeSpan.FromSeconds(20))).Sequences.Single().SequenceId;
        node.Send(new StepReport
        {
            ReplicaId = node.ReplicaId, StepMs = 10,
            Tokens = { new SequenceTokens { SequenceId = jobId, FirstTokenIndex = 0, Text = " first", TokenCount = 1 } },
        });
        using var response = await sending;
        await using var events = SseParser.Create(response.ContentStream!).EnumerateAsync().GetAsyncEnumerator();
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        async Task<string> NextText()
        {
            while (true)
            {
                Assert.True(await events.MoveNextAsync().AsTask().WaitAsync(bound.Token), "the stream ended early");
                if (events.Current.Data is not "[DONE]" && JsonDocument.Parse(events.Current.Data).RootElement.GetProperty("choices")[0] is var choice
                    && (choice.GetProperty("text").GetString()!.Length > 0 || choice.GetProperty("finish_reason").ValueKind != JsonValueKind.Null))
                {
                    return choice.GetProperty("text").GetString() + "|" + (choice.GetProperty("finish_reason").GetString() ?? "");
                }
            }
        }

        Assert.Equal(" first|", await NextText());
        node.Send(new StepReport
        {
            ReplicaId = node.ReplicaId, StepMs = 10,
            Tokens = { new SequenceTokens { SequenceId = jobId, FirstTokenIndex = 1, Text = " second", TokenCount = 1 } },
            Finished = { new SequenceFinished { SequenceId = jobId, Reason = FinishReason.Stop, CompletionTokens = 2 } },
        });
        Assert.Equal(" second|", await NextText());
        Assert.Equal("|stop", await NextText());
        Assert.Equal(" first second", (await GetJob(jobId)).Output);
    }

    [Fact]
    public async Task StopText_IsLeftOutOfTheWholeAndTheStreamedText_OfCompletionsAndChat_FinishReasonStop()
    {
        // A scripted engine sends the token that completes the stop text "ach", and text past it, as the simulated and
        // llama.cpp engines may; the job keeps every token, the OpenAI answer ends before the stop text.
        await using var node = await FakeWorkerNode.StartRegisteredAsync(cluster, "openai-stop", SchedulerCluster.ScriptedModel);
        var client = Completions(SchedulerCluster.Tenants[0].Key);
        string[] stop = ["zzz", "ach"];

        var whole = client.Send(new { model = SchedulerCluster.ScriptedModel, prompt = "Stop 1", max_tokens = 8, stop }, stream: false);
        var wholeJob = await Script(node);
        using var wholeResponse = await whole;
        var root = JsonDocument.Parse(wholeResponse.Content).RootElement;
        Assert.Equal(wholeJob, root.GetProperty("id").GetString());
        Assert.Equal(" ready a c", root.GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.Equal("stop", root.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(2, root.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(" ready a cache more", (await GetJob(wholeJob)).Output);

        var streamed = client.Send(new { model = SchedulerCluster.ScriptedModel, prompt = "Stop 1", max_tokens = 8, stop, stream = true }, stream: true);
        var streamedJob = await Script(node);
        using var response = await streamed;
        var chunks = new List<JsonElement>();
        await foreach (var item in SseParser.Create(response.ContentStream!).EnumerateAsync())
        {
            if (item.Data != "[DONE]")
            {
                chunks.Add(JsonDocument.Parse(item.Data).RootElement.GetProperty("choices")[0]);
            }
        }

        Assert.Equal(" ready a c", string.Concat(chunks.Select(c => c.GetProperty("text").GetString())));
        Assert.Equal("stop", chunks[^1].GetProperty("finish_reason").GetString());
        Assert.Equal(" ready a cache more", (await GetJob(streamedJob)).Output);

        // The same for chat, whole and streamed.
        var chat = Chat(SchedulerCluster.Tenants[0].Key, SchedulerCluster.ScriptedModel);
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 8, StopSequences = { "zzz", "ach" } };
        var chatWhole = chat.CompleteChatAsync([new UserChatMessage("Stop 1")], options);
        await Script(node);
        var completion = (await chatWhole).Value;
        Assert.Equal(" ready a c", completion.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);

        var chatText = new StringBuilder();
        ChatFinishReason? finish = null;
        var chatStreamed = Task.Run(async () =>
        {
            await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("Stop 1")], options))
            {
                chatText.Append(string.Concat(update.ContentUpdate.Select(p => p.Text)));
                finish ??= update.FinishReason;
            }
        });
        await Script(node);
        await chatStreamed;
        Assert.Equal(" ready a c", chatText.ToString());
        Assert.Equal(ChatFinishReason.Stop, finish);

        static async Task<string> Script(FakeWorkerNode node)
        {
            var jobId = (await node.NextAdmit(TimeSpan.FromSeconds(20))).Sequences.Single().SequenceId;
            node.Send(new StepReport
            {
                ReplicaId = node.ReplicaId,
                StepMs = 10,
                Tokens = { new SequenceTokens { SequenceId = jobId, FirstTokenIndex = 0, Text = " ready a ca", TokenCount = 1 } },
            });
            node.Send(new StepReport
            {
                ReplicaId = node.ReplicaId,
                StepMs = 10,
                Tokens = { new SequenceTokens { SequenceId = jobId, FirstTokenIndex = 1, Text = "che more", TokenCount = 1 } },
                Finished = { new SequenceFinished { SequenceId = jobId, Reason = FinishReason.Stop, CompletionTokens = 2 } },
            });
            return jobId;
        }
    }

    [Fact]
    public async Task Completion_SchedulerHeaders_SetPriorityAndTtftObjective_AndIdempotencyKeyReturnsTheSameJob()
    {
        var client = Completions(SchedulerCluster.Tenants[2].Key);
        var key = "openai-idem-" + Guid.NewGuid().ToString("N");
        var options = new Dictionary<string, string>
        {
            ["x-scheduler-priority"] = "critical",
            ["x-scheduler-ttft-objective-ms"] = "750",
            ["Idempotency-Key"] = key,
        };
        var request = new { model = SchedulerCluster.Model, prompt = "once", max_tokens = 3 };

        var first = await CreateCompletion(client, request, options);
        var again = await CreateCompletion(client, request, options);

        var id = first.RootElement.GetProperty("id").GetString()!;
        Assert.Equal(id, again.RootElement.GetProperty("id").GetString());
        var job = await GetJob(id);
        Assert.Equal(Priority.Critical, job.Priority);
        Assert.Equal(first.RootElement.GetProperty("choices")[0].GetProperty("text").GetString(), again.RootElement.GetProperty("choices")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task Errors_HaveOpenAisShape_401_404Model_400Param()
    {
        var unauthorized = await Assert.ThrowsAsync<ClientResultException>(() => Chat("not-a-key").CompleteChatAsync([new UserChatMessage("hi")]));
        AssertError(unauthorized, 401, "invalid_request_error", param: null, code: "invalid_api_key");

        var unknownModel = await Assert.ThrowsAsync<ClientResultException>(() =>
            Chat(SchedulerCluster.Tenants[0].Key, "no-such-model").CompleteChatAsync([new UserChatMessage("hi")]));
        AssertError(unknownModel, 404, "invalid_request_error", "model", "model_not_found");

        var logprobs = await Assert.ThrowsAsync<ClientResultException>(() =>
            Chat(SchedulerCluster.Tenants[0].Key).CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions { IncludeLogProbabilities = true }));
        AssertError(logprobs, 400, "invalid_request_error", "logprobs", code: null);

        var completions = Completions(SchedulerCluster.Tenants[0].Key);
        AssertError(await Assert.ThrowsAsync<ClientResultException>(() => CreateCompletion(completions, new { model = SchedulerCluster.Model, prompt = "x", n = 2 })),
            400, "invalid_request_error", "n", code: null);
        AssertError(await Assert.ThrowsAsync<ClientResultException>(() => CreateCompletion(completions, new { model = SchedulerCluster.Model, prompt = "x", max_tokens = "ten" })),
            400, "invalid_request_error", "max_tokens", code: null);
        AssertError(await Assert.ThrowsAsync<ClientResultException>(() => CreateCompletion(completions, new { model = SchedulerCluster.Model, prompt = "x", max_tokens = 4, temperature = 7 })),
            400, "invalid_request_error", "temperature", code: null);
        AssertError(await Assert.ThrowsAsync<ClientResultException>(() => CreateCompletion(completions, new { model = SchedulerCluster.Model, prompt = "x", max_tokens = 4, stop = FiveStops })),
            400, "invalid_request_error", "stop", code: null);
        var badPriority = new Dictionary<string, string> { ["x-scheduler-priority"] = "urgent" };
        AssertError(await Assert.ThrowsAsync<ClientResultException>(() => CreateCompletion(completions, new { model = SchedulerCluster.Model, prompt = "x" }, badPriority)),
            400, "invalid_request_error", "x-scheduler-priority", code: null);
    }

    [Fact]
    public async Task UnknownRouteAndWrongMethod_AreOpenAiShapedErrors()
    {
        using var http = new HttpClient { BaseAddress = new Uri(cluster.OpenAiAddress) };
        http.DefaultRequestHeaders.Authorization = new("Bearer", SchedulerCluster.Tenants[0].Key);

        using var body = new StringContent("""{"model":"x","input":"y"}""", Encoding.UTF8, "application/json");
        using var embeddings = await http.PostAsync("/v1/embeddings", body);
        var unknown = await ErrorOf(embeddings);
        Assert.Equal((404, "unknown_url"), ((int)embeddings.StatusCode, unknown.GetProperty("code").GetString()));
        Assert.Contains("POST /v1/embeddings", unknown.GetProperty("message").GetString(), StringComparison.Ordinal);

        // Each of the API's routes with a method it is not served with; some of these meet another endpoint's catch-all
        // first (the dashboard's GET, gRPC's POST for an unknown service), which had answered 404.
        foreach (var (verb, path, allowed) in new[]
        {
            ("GET", "/v1/chat/completions", "POST"), ("GET", "/v1/completions", "POST"), ("DELETE", "/v1/completions", "POST"),
            ("POST", "/v1/models", "GET, HEAD"), ("POST", "/v1/models/" + SchedulerCluster.Model, "GET, HEAD"),
        })
        {
            using var request = new HttpRequestMessage(new HttpMethod(verb), path);
            using var response = await http.SendAsync(request);
            var method = await ErrorOf(response);
            Assert.Equal((405, "method_not_allowed", allowed), ((int)response.StatusCode, method.GetProperty("code").GetString(), string.Join(", ", response.Content.Headers.Allow)));
            Assert.EndsWith("use " + allowed, method.GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        static async Task<JsonElement> ErrorOf(HttpResponseMessage response)
        {
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
            return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").Clone();
        }
    }

    [Theory]
    [InlineData("POST", "/v1//chat/completions", "POST /v1/chat/completions")]
    [InlineData("POST", "//v1/completions", "POST /v1/completions")]
    [InlineData("GET", "/v1//models", "GET /v1/models")]
    public async Task PathWithAnEmptySegment_Is404SayingSo_NotA405ForItsOwnMethod(string verb, string path, string served)
    {
        // A base URL ending in a slash joined to "/chat/completions": routing has no such route, and its 404 was turned
        // into a 405 "POST is not allowed on /v1//chat/completions; use POST".
        Assert.Equal(
            $"no route {verb} {path}: the path has an empty segment (//); this API serves {served}: the client's base URL probably ends with a slash",
            await NotFoundMessage(verb, path));
    }

    [Theory]
    [InlineData("POST", "/v1/Chat/Completions", "POST /v1/chat/completions")]
    [InlineData("GET", "/v1/Chat/Completions", "POST /v1/chat/completions")]
    [InlineData("POST", "/V1/completions", "POST /v1/completions")]
    [InlineData("GET", "/v1/Models", "GET /v1/models")]
    public async Task PathInAnotherCase_Is404SayingPathsAreCaseSensitive_AsOpenAisAre(string verb, string path, string served)
    {
        // Routing matched any case after /v1: POST /v1/Chat/Completions was served (its GET a 405), while /V1/completions
        // was a 404 listing every route.
        Assert.Equal($"no route {verb} {path}: paths are case-sensitive; this API serves {served}", await NotFoundMessage(verb, path));
    }

    /// <summary>Sends <paramref name="verb"/> <paramref name="path"/> to the OpenAI port, a POST with a body either
    /// completion route takes, asserts the answer is the 404 <c>unknown_url</c>, and returns its message.</summary>
    private async Task<string?> NotFoundMessage(string verb, string path)
    {
        using var http = new HttpClient();
        http.DefaultRequestHeaders.Authorization = new("Bearer", SchedulerCluster.Tenants[0].Key);

        // Whole: relative, "//v1/completions" would be read as a host named v1.
        using var request = new HttpRequestMessage(new HttpMethod(verb), new Uri(cluster.OpenAiAddress + path))
        {
            Content = verb == "POST"
                ? new StringContent($$"""{"model":"{{SchedulerCluster.Model}}","prompt":"x","messages":[{"role":"user","content":"x"}],"max_tokens":2}""", Encoding.UTF8, "application/json")
                : null,
        };

        using var response = await http.SendAsync(request);

        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal((HttpStatusCode.NotFound, "unknown_url"), (response.StatusCode, error.GetProperty("code").GetString()));
        return error.GetProperty("message").GetString();
    }

    [Fact]
    public async Task V1InAnotherCase_OnTheSilosHttpPort_IsItsBare404()
    {
        // Routing matched any case, and the gate kept only "/v1" off that port: /V1/models listed the models there.
        using var http = new HttpClient();
        http.DefaultRequestHeaders.Authorization = new("Bearer", SchedulerCluster.Tenants[0].Key);

        using var response = await http.GetAsync(cluster.SiloServices.GetRequiredService<ListeningAddresses>().Http + "/V1/models");

        Assert.Equal((HttpStatusCode.NotFound, ""), (response.StatusCode, await response.Content.ReadAsStringAsync()));
    }

    [Fact]
    public async Task BaseUrlWithoutV1_Is404InOpenAisShape_SayingSo_AndOtherPortsKeepTheirBare404()
    {
        // The SDK appends "/chat/completions" to its endpoint: without /v1 it had an empty 404 (an outside probe).
        var chat = new ChatClient(SchedulerCluster.Model, new ApiKeyCredential(SchedulerCluster.Tenants[0].Key), new OpenAIClientOptions
        {
            Endpoint = new Uri(cluster.OpenAiAddress),
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
        });
        var ex = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("hi")]));
        AssertError(ex, 404, "invalid_request_error", param: null, code: "unknown_url");
        Assert.Contains("base URL probably lacks /v1", JsonDocument.Parse(ex.GetRawResponse()!.Content).RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);

        // Any other path on the OpenAI port is the same shape, and shows nothing of the silo's other endpoints.
        using var http = new HttpClient();
        using var metrics = await http.GetAsync(cluster.OpenAiAddress + "/metrics");
        Assert.Equal((HttpStatusCode.NotFound, "application/json"), (metrics.StatusCode, metrics.Content.Headers.ContentType?.MediaType));
        Assert.Equal("unknown_url", JsonDocument.Parse(await metrics.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("code").GetString());

        // /v1 on the silo's HTTP port keeps its empty 404.
        using var elsewhere = await http.GetAsync(cluster.SiloServices.GetRequiredService<ListeningAddresses>().Http + "/v1/models");
        Assert.Equal((HttpStatusCode.NotFound, ""), (elsewhere.StatusCode, await elsewhere.Content.ReadAsStringAsync()));
    }

    [Fact]
    public async Task GzipBody_IsDecoded_AndOneDecodedPastTheBodyLimitIs413_InOpenAisShape()
    {
        // Was a 400 "'0x1F' is an invalid start of a value" (an outside probe).
        using var http = new HttpClient { BaseAddress = new Uri(cluster.OpenAiAddress) };
        http.DefaultRequestHeaders.Authorization = new("Bearer", SchedulerCluster.Tenants[0].Key);

        using var zipped = Gzip($$"""{"model":"{{SchedulerCluster.Model}}","prompt":"zipped","max_tokens":3}""");
        using var good = await http.PostAsync("/v1/completions", zipped);
        var body = await good.Content.ReadAsStringAsync();
        Assert.True(good.IsSuccessStatusCode, body);
        Assert.Equal(3, JsonDocument.Parse(body).RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());

        // The body limit (Scheduler:MaxReceiveMessageBytes, 8 MiB) holds on the wire and decoded; these are about 30 KB
        // on the wire and 31 MB decoded.
        using var large = Gzip($$"""{"model":"{{SchedulerCluster.Model}}","prompt":"{{new string('a', 31_000_000)}}"}""");
        using var bomb = await http.PostAsync("/v1/completions", large);
        Assert.Equal((HttpStatusCode.RequestEntityTooLarge, "application/json"), (bomb.StatusCode, bomb.Content.Headers.ContentType?.MediaType));
        var error = JsonDocument.Parse(await bomb.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Contains("once decoded from gzip", error.GetProperty("message").GetString(), StringComparison.Ordinal);

        static ByteArrayContent Gzip(string json)
        {
            using var encoded = new MemoryStream();
            using (var gzip = new System.IO.Compression.GZipStream(encoded, System.IO.Compression.CompressionLevel.Fastest))
            {
                gzip.Write(Encoding.UTF8.GetBytes(json));
            }

            var content = new ByteArrayContent(encoded.ToArray());
            content.Headers.ContentType = new("application/json");
            content.Headers.ContentEncoding.Add("gzip");
            return content;
        }
    }

    [Fact]
    public async Task BodyThatSaysItIsNotJson_Is415InOpenAisShape_NamingItsContentType()
    {
        // `curl -d` without -H 'Content-Type: application/json' sends a form post: it was read as JSON all the same.
        using var http = new HttpClient { BaseAddress = new Uri(cluster.OpenAiAddress) };
        http.DefaultRequestHeaders.Authorization = new("Bearer", SchedulerCluster.Tenants[0].Key);
        var json = $$"""{"model":"{{SchedulerCluster.Model}}","prompt":"x","max_tokens":2}""";

        using var form = new StringContent(json, Encoding.UTF8, "application/x-www-form-urlencoded");
        using var refused = await http.PostAsync("/v1/completions", form);

        Assert.Equal((HttpStatusCode.UnsupportedMediaType, "application/json"), (refused.StatusCode, refused.Content.Headers.ContentType?.MediaType));
        var error = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.StartsWith("Content-Type 'application/x-www-form-urlencoded; charset=utf-8' is not supported", error.GetProperty("message").GetString(), StringComparison.Ordinal);

        using var plain = new StringContent(json, Encoding.UTF8, "application/json");
        using var read = await http.PostAsync("/v1/completions", plain);
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
    }

    [Fact]
    public async Task HugeHeaderOrRequestLine_Is431Or414FromKestrel_WithAnEmptyBody_AsDocumented()
    {
        // Pins what docs/operations.md says: Kestrel refuses headers over 32 KB, or over 100 of them, while parsing, and
        // answers itself (an empty body, Content-Length 0) before it calls the app, so no middleware could give the
        // answer OpenAI's shape. If this starts failing, the door may now shape it: update the docs.
        using var http = new HttpClient { BaseAddress = new Uri(cluster.OpenAiAddress) };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + new string('k', 70_000));

        using var response = await http.SendAsync(request);

        Assert.Equal((HttpStatusCode.RequestHeaderFieldsTooLarge, ""), (response.StatusCode, await response.Content.ReadAsStringAsync()));

        // And for more than 100 header fields, however small.
        using var many = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        for (var i = 0; i < 101; i++)
        {
            many.Headers.TryAddWithoutValidation($"x-many-{i}", "1");
        }

        using var tooMany = await http.SendAsync(many);
        Assert.Equal((HttpStatusCode.RequestHeaderFieldsTooLarge, ""), (tooMany.StatusCode, await tooMany.Content.ReadAsStringAsync()));

        // The same for a request line over 8 KB.
        using var longUrl = await http.GetAsync("/v1/models/" + new string('m', 9_000));
        Assert.Equal((HttpStatusCode.RequestUriTooLong, ""), (longUrl.StatusCode, await longUrl.Content.ReadAsStringAsync()));
    }

    [Fact]
    public async Task OverQuota_Is429_WithRetryAfterFromTheQuotasHint()
    {
        var key = await cluster.NewTenantKey("openai-rpm", new TenantQuotas { RequestsPerMinute = 1, TokensPerMinute = 100_000 });
        using var grpc = cluster.ClientWithKey(key);
        var parked = await grpc.SubmitAsync(new SubmitJobRequest { Model = SchedulerCluster.ParkedModel, Prompt = "wait", MaxTokens = 4 });
        try
        {
            var ex = await Assert.ThrowsAsync<ClientResultException>(() => CreateCompletion(Completions(key), new { model = SchedulerCluster.Model, prompt = "x", max_tokens = 2 }));

            // The type says which limit, as OpenAI's does ("rate_limit_error" was none of OpenAI's).
            AssertError(ex, 429, "requests", param: null, code: "rate_limit_exceeded");
            var headers = ex.GetRawResponse()!.Headers;
            Assert.True(headers.TryGetValue("Retry-After", out var seconds));
            Assert.InRange(int.Parse(seconds!, System.Globalization.CultureInfo.InvariantCulture), 25, 60);
            Assert.True(headers.TryGetValue("retry-after-ms", out var ms));
            Assert.InRange(long.Parse(ms!, System.Globalization.CultureInfo.InvariantCulture), 25_000, 60_000);

            // OpenAI's x-ratelimit headers: both quotas, the requests one used up until it refills (a minute's worth is 1).
            string Header(string name) => headers.TryGetValue(name, out var value) ? value! : $"(no {name})";
            Assert.Equal(("1", "0", "100000"), (Header("x-ratelimit-limit-requests"), Header("x-ratelimit-remaining-requests"), Header("x-ratelimit-limit-tokens")));
            Assert.InRange(long.Parse(Header("x-ratelimit-remaining-tokens"), System.Globalization.CultureInfo.InvariantCulture), 99_000, 100_000);
            Assert.Matches("^([0-9]+m)?[0-9]+(\\.[0-9]+)?s$", Header("x-ratelimit-reset-requests"));
            Assert.Matches("^([0-9]+ms|[0-9.]+s|0s)$", Header("x-ratelimit-reset-tokens"));
        }
        finally
        {
            await grpc.CancelAsync(parked.JobId);
        }
    }

    [Fact]
    public async Task SheddableWhileTheModelIsOverloaded_Is503ServerIsOverloaded_WithRetryAfter_NotA429()
    {
        // It was a 429 rate_limit_exceeded, which tells a client (and a gateway that paces per key) that its key is over
        // a limit; OpenAI's API answers an overloaded model 503.
        using var grpc = cluster.Tenant(2);
        var queued = new List<Job>();
        for (var i = 0; i < SchedulerCluster.OverloadQueueLength; i++)
        {
            queued.Add(await grpc.SubmitAsync(new SubmitJobRequest { Model = SchedulerCluster.ParkedModel, Prompt = "wait", MaxTokens = 4 }));
        }

        try
        {
            var sheddable = new Dictionary<string, string> { ["x-scheduler-priority"] = "sheddable" };
            var ex = await Assert.ThrowsAsync<ClientResultException>(() =>
                CreateCompletion(Completions(SchedulerCluster.Tenants[2].Key), new { model = SchedulerCluster.ParkedModel, prompt = "x", max_tokens = 2 }, sheddable));

            AssertError(ex, 503, "server_error", param: null, code: "server_is_overloaded");
            var headers = ex.GetRawResponse()!.Headers;
            Assert.True(headers.TryGetValue("Retry-After", out var seconds));
            Assert.True(int.Parse(seconds!, System.Globalization.CultureInfo.InvariantCulture) >= 1);
            Assert.True(headers.TryGetValue("retry-after-ms", out _));
        }
        finally
        {
            foreach (var job in queued)
            {
                await grpc.CancelAsync(job.JobId);
            }
        }
    }

    [Fact]
    public async Task Models_ListsTheCatalog_AndAnUnknownModelIs404()
    {
        var models = new OpenAI.Models.OpenAIModelClient(new ApiKeyCredential(SchedulerCluster.Tenants[0].Key), Options());

        var list = (await models.GetModelsAsync()).Value;
        Assert.Equal(
            [SchedulerCluster.FairModel, SchedulerCluster.Model, SchedulerCluster.SlashedModel, SchedulerCluster.ParkedModel, SchedulerCluster.ScriptedModel],
            list.Select(m => m.Id).Order(StringComparer.Ordinal));
        Assert.Equal(SchedulerCluster.Model, (await models.GetModelAsync(SchedulerCluster.Model)).Value.Id);
        AssertError(await Assert.ThrowsAsync<ClientResultException>(() => models.GetModelAsync("no-such-model")), 404, "invalid_request_error", "model", "model_not_found");
    }

    [Fact]
    public async Task ErrorMessage_IsUtf8Text_NotHtmlEscaped()
    {
        // It read "model \u0027modèle-inconnu\u0027 not found" in curl.
        using var http = new HttpClient { BaseAddress = new Uri(cluster.OpenAiAddress) };
        http.DefaultRequestHeaders.Authorization = new("Bearer", SchedulerCluster.Tenants[0].Key);

        using var response = await http.GetAsync("/v1/models/mod%C3%A8le-inconnu");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("\"message\":\"model 'modèle-inconnu' not found\"", Encoding.UTF8.GetString(await response.Content.ReadAsByteArrayAsync()), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Model_WhoseIdHasASlash_IsFound_SentAsIsOrEscaped()
    {
        // A Hugging Face name ("meta-llama/Llama-3.1-8B-Instruct") was a 404 unknown_url sent as is and a 404
        // model_not_found escaped (%2F, as the openai npm package sends it), though the model list had it.
        using var http = new HttpClient { BaseAddress = new Uri(cluster.OpenAiAddress) };
        http.DefaultRequestHeaders.Authorization = new("Bearer", SchedulerCluster.Tenants[0].Key);

        foreach (var path in new[] { "/v1/models/org/slashed-model", "/v1/models/org%2Fslashed-model", "/v1/models/org%2fslashed-model" })
        {
            using var response = await http.GetAsync(path);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {body}");
            Assert.Equal((SchedulerCluster.SlashedModel, "model"), (JsonDocument.Parse(body).RootElement.GetProperty("id").GetString(), JsonDocument.Parse(body).RootElement.GetProperty("object").GetString()));
        }

        var models = new OpenAI.Models.OpenAIModelClient(new ApiKeyCredential(SchedulerCluster.Tenants[0].Key), Options());
        Assert.Equal(SchedulerCluster.SlashedModel, (await models.GetModelAsync(SchedulerCluster.SlashedModel)).Value.Id);

        // One segment more than a model has is still this route's: an unknown model, and POST there a 405.
        using var unknown = await http.GetAsync("/v1/models/org/no-such-model");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("model_not_found", JsonDocument.Parse(await unknown.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("code").GetString());

        // Escaped, it is named as the client named it, not "model 'org%2Fno-such-model' not found".
        using var escaped = await http.GetAsync("/v1/models/org%2Fno-such-model");
        Assert.Equal(
            (HttpStatusCode.NotFound, "model 'org/no-such-model' not found"),
            (escaped.StatusCode, JsonDocument.Parse(await escaped.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("message").GetString()));
        using var post = await http.PostAsync("/v1/models/org/slashed-model", null);
        Assert.Equal((HttpStatusCode.MethodNotAllowed, "GET, HEAD"), (post.StatusCode, string.Join(", ", post.Content.Headers.Allow)));
    }

    [Fact]
    public async Task ChatCompletion_NotStreamed_AnswersAsTheAssistant_UnderTheJobsId()
    {
        var completion = (await Chat(SchedulerCluster.Tenants[0].Key).CompleteChatAsync(
            [new SystemChatMessage("You are brief."), new UserChatMessage("Say hello")],
            new ChatCompletionOptions { MaxOutputTokenCount = 9, Temperature = 0.5f, TopP = 0.9f })).Value;

        var job = await GetJob(completion.Id);
        Assert.Equal(JobStatus.Completed, job.Status);
        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        Assert.Equal(job.Output, completion.Content.Single().Text);
        Assert.Equal(ChatFinishReason.Length, completion.FinishReason);
        Assert.Equal(9, completion.Usage.OutputTokenCount);
        Assert.Equal(job.PromptTokens, completion.Usage.InputTokenCount);
    }

    [Fact]
    public async Task ChatCompletion_Streamed_DeliversTheJobsOutputInUpdates_ThenUsage()
    {
        var text = new StringBuilder();
        string? id = null;
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        var updates = 0;
        await foreach (var update in Chat(SchedulerCluster.Tenants[1].Key).CompleteChatStreamingAsync(
            [new UserChatMessage([ChatMessageContentPart.CreateTextPart("Write"), ChatMessageContentPart.CreateTextPart("a poem")])],
            new ChatCompletionOptions { MaxOutputTokenCount = 30 }))
        {
            id ??= update.CompletionId;
            updates++;
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }

            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }

        var job = await GetJob(id!);
        Assert.Equal(job.Output, text.ToString());
        Assert.Equal(ChatFinishReason.Length, finish);
        Assert.Equal(30, usage!.OutputTokenCount);
        Assert.True(updates >= 3, $"{updates} updates");
    }

    [Fact]
    public async Task ChatCompletion_WithoutMaxTokens_ALongPromptGetsWhatTheContextLeaves()
    {
        // The model's context is 131,072 tokens (its catalog entry) and its most output 512: a prompt leaving less than
        // that was refused over a max_tokens its client never sent (an outside probe); OpenAI's default is the rest.
        const int Context = 131_072;
        var prompt = string.Concat(Enumerable.Repeat("word ", Context - 200));

        var completion = (await Chat(SchedulerCluster.Tenants[2].Key).CompleteChatAsync([new UserChatMessage(prompt)])).Value;

        Assert.Equal(ChatFinishReason.Length, completion.FinishReason);
        Assert.Equal(Context, completion.Usage.InputTokenCount + completion.Usage.OutputTokenCount);
        Assert.InRange(completion.Usage.OutputTokenCount, 1, SchedulerCluster.MaxOutputTokens - 1);
    }

    [Fact]
    public async Task PromptThatDoesNotFit_Is400_ContextLengthExceeded_NamingPromptOrMessages()
    {
        // OpenAI's code, which clients act on (trimming the conversation); it was null (an outside probe). Over the
        // model's context, for completions and chat:
        const int Context = 131_072;
        var completions = Completions(SchedulerCluster.Tenants[0].Key);
        AssertError(
            await Assert.ThrowsAsync<ClientResultException>(() => CreateCompletion(completions, new { model = SchedulerCluster.Model, prompt = Enumerable.Repeat(1, Context - 2), max_tokens = 4 })),
            400, "invalid_request_error", "prompt", "context_length_exceeded");
        var words = string.Concat(Enumerable.Repeat("word ", Context));
        AssertError(
            await Assert.ThrowsAsync<ClientResultException>(() => Chat(SchedulerCluster.Tenants[0].Key).CompleteChatAsync([new UserChatMessage(words)], new ChatCompletionOptions { MaxOutputTokenCount = 4 })),
            400, "invalid_request_error", "messages", "context_length_exceeded");

        // Without max_tokens the client is not told of one it never sent: the prompt alone leaves no room.
        var noMax = await Assert.ThrowsAsync<ClientResultException>(() => Chat(SchedulerCluster.Tenants[0].Key).CompleteChatAsync([new UserChatMessage(words)]));
        AssertError(noMax, 400, "invalid_request_error", "messages", "context_length_exceeded");
        Assert.DoesNotContain("max_tokens", JsonDocument.Parse(noMax.GetRawResponse()!.Content).RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);

        // Within the context, over the KV cache of every replica the model has (the scripted model's hold 100,000 tokens).
        await using var node = await FakeWorkerNode.StartRegisteredAsync(cluster, "openai-small-kv", SchedulerCluster.ScriptedModel);
        AssertError(
            await Assert.ThrowsAsync<ClientResultException>(() => CreateCompletion(completions, new { model = SchedulerCluster.ScriptedModel, prompt = Enumerable.Repeat(1, 100_000), max_tokens = 8 })),
            400, "invalid_request_error", "prompt", "context_length_exceeded");
    }

    [Fact]
    public async Task ChatCompletion_ImagePart_Is400NamingThePart()
    {
        var ex = await Assert.ThrowsAsync<ClientResultException>(() => Chat(SchedulerCluster.Tenants[0].Key).CompleteChatAsync(
            [new UserChatMessage(ChatMessageContentPart.CreateTextPart("what is this"), ChatMessageContentPart.CreateImagePart(new Uri("https://example.invalid/cat.png")))]));

        AssertError(ex, 400, "invalid_request_error", "messages[0].content[1].type", code: null);
    }

    private static async Task<JsonDocument> CreateCompletion(SdkCompletions client, object body, Dictionary<string, string>? headers = null)
    {
        using var response = await client.Send(body, stream: false, headers);
        return JsonDocument.Parse(response.Content);
    }

    private async Task<Job> GetJob(string jobId)
    {
        // The same job through the gRPC API, as any tenant of the cluster may own it: ask each.
        for (var t = 0; t < SchedulerCluster.Tenants.Length; t++)
        {
            using var client = cluster.Tenant(t);
            try
            {
                return await client.GetAsync(jobId);
            }
            catch (Grpc.Core.RpcException ex) when (ex.StatusCode == Grpc.Core.StatusCode.NotFound)
            {
            }
        }

        throw new InvalidOperationException($"no tenant owns job {jobId}");
    }

    private static void AssertError(ClientResultException ex, int status, string type, string? param, string? code)
    {
        Assert.Equal(status, ex.Status);
        var error = JsonDocument.Parse(ex.GetRawResponse()!.Content).RootElement.GetProperty("error");
        Assert.Equal(type, error.GetProperty("type").GetString());
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
    }
}

/// <summary>POST /v1/completions through an <see cref="OpenAIClient"/>'s pipeline: the SDK's API-key authentication,
/// transport and <see cref="ClientResultException"/> for an error answer.</summary>
internal sealed class SdkCompletions(OpenAIClient client, Uri uri)
{
    public async Task<PipelineResponse> Send(object body, bool stream, IReadOnlyDictionary<string, string>? headers = null)
    {
        using var message = client.Pipeline.CreateMessage();
        message.Request.Method = "POST";
        message.Request.Uri = uri;
        message.Request.Headers.Set("Content-Type", "application/json");
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            message.Request.Headers.Set(name, value);
        }

        message.Request.Content = BinaryContent.Create(BinaryData.FromObjectAsJson(body));
        message.BufferResponse = !stream;
        message.ResponseClassifier = PipelineMessageClassifier.Create([200]);
        await client.Pipeline.SendAsync(message);
        if (message.Response!.IsError)
        {
            throw await ClientResultException.CreateAsync(message.Response);
        }

        return message.ExtractResponse()!;
    }
}
