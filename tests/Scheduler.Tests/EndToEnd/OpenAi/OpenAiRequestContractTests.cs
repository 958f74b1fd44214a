using System.Net;
using System.Text;
using System.Text.Json;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.EndToEnd.OpenAi;

/// <summary>Requests OpenAI's API and vLLM take or refuse, sent as raw JSON over HTTP to the live silo and its worker
/// nodes: empty message contents, stream_options without a stream, a batch of prompts, top_logprobs 0, and a request
/// larger than its tenant's tokens-per-minute quota.</summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed class OpenAiRequestContractTests(SchedulerCluster cluster)
{
    private static readonly int[][] BatchOfOneIds = [[11, 12, 13]];
    private static readonly int[][] BatchOfTwoIds = [[1, 2], [3]];
    private static readonly string[] BatchOfOneText = ["Tell me a story"];
    private static readonly string[] BatchOfThreeTexts = ["a", "b", "c"];
    private static readonly string[] EmptyStop = [""];
    private static readonly string[] EmptyStopAmongOthers = ["", "never-generated-stop-text", ""];

    [Fact]
    public async Task ChatCompletion_EmptyContentInAnyTurn_IsAnswered()
    {
        // An empty system prompt was a 400 naming messages[0].content.
        var (status, body) = await Post("/v1/chat/completions", new
        {
            model = SchedulerCluster.Model,
            max_tokens = 3,
            messages = new[]
            {
                new { role = "system", content = "" }, new { role = "user", content = "" },
                new { role = "assistant", content = "" }, new { role = "user", content = "Name a colour." },
            },
        });

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(3, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task ChatCompletion_EveryContentEmpty_Is400NamingMessages()
    {
        var (status, body) = await Post("/v1/chat/completions", new
        {
            model = SchedulerCluster.Model,
            messages = new[] { new { role = "system", content = "" }, new { role = "user", content = "" } },
        });

        AssertError(status, body, "messages", "messages: every message's content is empty: at least one must have text");
    }

    [Theory]
    [InlineData("/v1/completions", false)]
    [InlineData("/v1/chat/completions", null)]
    public async Task StreamOptions_WithoutStreamTrue_Is400NamingStreamOptions(string path, bool? stream)
    {
        // It was ignored: the answer came whole, and the usage chunk asked for never did.
        var (status, body) = await Post(path, new
        {
            model = SchedulerCluster.Model,
            prompt = "x",
            messages = new[] { new { role = "user", content = "x" } },
            max_tokens = 2,
            stream,
            stream_options = new { include_usage = true },
        });

        AssertError(status, body, "stream_options", "stream_options: is allowed only when stream is true");
    }

    [Fact]
    public async Task Completion_ABatchOfOnePrompt_IsThatPrompt_ABatchOfMore_Is400NamingPrompt()
    {
        // [[1,2,3]] was a 400; ["..."] already passed, and is checked to stay alike.
        var (ids, idsBody) = await Post("/v1/completions", new { model = SchedulerCluster.Model, prompt = BatchOfOneIds, max_tokens = 2 });
        Assert.Equal(HttpStatusCode.OK, ids);
        Assert.Equal(3, idsBody.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        using (var client = cluster.Tenant(0))
        {
            var job = await client.GetAsync(idsBody.GetProperty("id").GetString()!);
            Assert.Equal((3, PromptTokensSource.TokenIds), (job.PromptTokens, job.PromptTokensSource));
        }

        var (text, textBody) = await Post("/v1/completions", new { model = SchedulerCluster.Model, prompt = BatchOfOneText, max_tokens = 2 });
        Assert.Equal(HttpStatusCode.OK, text);
        Assert.Equal(2, textBody.GetProperty("usage").GetProperty("completion_tokens").GetInt32());

        var (several, severalBody) = await Post("/v1/completions", new { model = SchedulerCluster.Model, prompt = BatchOfTwoIds, max_tokens = 2 });
        AssertError(several, severalBody, "prompt", "prompt: a batch of 2 prompts is not supported; send one prompt per request (a batch of one is that prompt)");
        var (strings, stringsBody) = await Post("/v1/completions", new { model = SchedulerCluster.Model, prompt = BatchOfThreeTexts, max_tokens = 2 });
        AssertError(strings, stringsBody, "prompt", "prompt: a batch of 3 prompts is not supported; send one prompt per request (a batch of one is that prompt)");
    }

    [Fact]
    public async Task TopLogprobsZero_AsksForNothing_IsAnswered_MoreIs400NamingTopLogprobs()
    {
        var chat = new { role = "user", content = "hi" };
        var (zero, _) = await Post("/v1/chat/completions", new { model = SchedulerCluster.Model, messages = new[] { chat }, max_tokens = 2, logprobs = false, top_logprobs = 0 });
        Assert.Equal(HttpStatusCode.OK, zero);

        var (two, body) = await Post("/v1/chat/completions", new { model = SchedulerCluster.Model, messages = new[] { chat }, max_tokens = 2, top_logprobs = 2 });
        AssertError(two, body, "top_logprobs", "top_logprobs: log probabilities are not supported (0 only)");
    }

    [Fact]
    public async Task EmptyStopText_AloneOrInAList_IsAnswered_AsNoStop()
    {
        // stop: "" was answered and stop: [""] was a 400 naming stop ("must not contain an empty text").
        var chat = new { role = "user", content = "hi" };
        foreach (var stop in new object[] { "", EmptyStop, EmptyStopAmongOthers })
        {
            var (status, body) = await Post("/v1/chat/completions", new { model = SchedulerCluster.Model, messages = new[] { chat }, max_tokens = 2, stop });
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal(2, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        }
    }

    [Fact]
    public async Task LargerThanTheTokensPerMinuteQuota_Is429_AsOpenAiAnswersIt_WithoutRetryAfter()
    {
        using var admin = cluster.Admin();
        var key = "openai-tpm-key-" + Guid.NewGuid().ToString("N")[..8];
        await admin.PutTenantAsync(new PutTenantRequest
        {
            TenantId = "openai-tpm-" + Guid.NewGuid().ToString("N")[..8], Weight = 1, ApiKey = key, Quotas = new TenantQuotas { TokensPerMinute = 100 },
        });

        var (status, body, headers) = await Send("/v1/completions", new { model = SchedulerCluster.Model, prompt = Enumerable.Range(1, 40), max_completion_tokens = 80 }, key);

        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        var error = body.GetProperty("error");
        Assert.Equal(("tokens", "rate_limit_exceeded", JsonValueKind.Null), (error.GetProperty("type").GetString(), error.GetProperty("code").GetString(), error.GetProperty("param").ValueKind));
        Assert.StartsWith("max_completion_tokens: 40 prompt tokens + max_tokens 80 need 120 tokens", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("limit 100, requested 120", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.False(headers.Contains("Retry-After"));
        Assert.False(headers.Contains("retry-after-ms"));

        // No wait lets it pass: the OpenAI SDKs, which retry a 429 twice by default, are told not to.
        Assert.Equal(["false"], headers.GetValues("x-should-retry"));
    }

    [Fact]
    public async Task WithoutMaxTokens_RetriedWithItsIdempotencyKeyAfterALargerReplicaJoined_IsTheSameJob()
    {
        // The default was fitted to the largest replica (8,190 prompt tokens leave 2 of a fake replica's 8,192) and the
        // fitted number was part of the key's fingerprint: once a larger replica had joined, the retry got the default of
        // 16 and its own key answered 409 idempotency_key_reused.
        var auth = new Grpc.Core.Metadata { { "authorization", "Bearer " + SchedulerCluster.NodeToken } };
        var registry = new NodeRegistryService.NodeRegistryServiceClient(cluster.Channel);
        await using var small = await Hostile.FakeWorkerNode.StartRegisteredAsync(cluster, "fit-small", SchedulerCluster.ScriptedModel);
        await using var large = await Hostile.FakeWorkerNode.StartAsync("fit-large-" + Guid.NewGuid().ToString("N")[..6]);
        var request = new { model = SchedulerCluster.ScriptedModel, prompt = Enumerable.Repeat(1, 8190), stream = true };
        var key = "fit-" + Guid.NewGuid().ToString("N");
        var first = await StreamedJobId(request, key);
        try
        {
            Assert.Equal(HttpStatusCode.OK, first.Status);
            var description = large.Describe(SchedulerCluster.ScriptedModel);
            description.Replicas[0].MaxContextTokens = 16_384;
            await large.RegisterAsync(registry, auth, description);

            // The front door reads what the replicas take at most every few seconds.
            await Task.Delay(Scheduler.Silo.Models.ModelCapacity.RefreshInterval + TimeSpan.FromSeconds(1));
            Assert.Equal((HttpStatusCode.OK, first.JobId), await StreamedJobId(request, key));
        }
        finally
        {
            // Neither the job nor the nodes are left for the tests after this one, which expect the scripted model's jobs
            // to reach their own node.
            using var client = cluster.Tenant(0);
            await client.CancelAsync(first.JobId!);
            await registry.DeregisterNodeAsync(new DeregisterNodeRequest { NodeId = small.NodeId }, auth);
            await registry.DeregisterNodeAsync(new DeregisterNodeRequest { NodeId = large.NodeId }, auth);
        }
    }

    /// <summary>Sends a streamed completion with <paramref name="idempotencyKey"/> and leaves once its headers came (the
    /// job runs on, as a keyed request's does): the status and the job's id.</summary>
    private async Task<(HttpStatusCode Status, string? JobId)> StreamedJobId(object request, string idempotencyKey)
    {
        using var http = new HttpClient();
        using var message = new HttpRequestMessage(HttpMethod.Post, cluster.OpenAiAddress + "/v1/completions")
        {
            Content = new StringContent(JsonSerializer.Serialize(request), Encoding.UTF8, "application/json"),
        };
        message.Headers.Authorization = new("Bearer", SchedulerCluster.Tenants[0].Key);
        message.Headers.Add("Idempotency-Key", idempotencyKey);
        using var response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead);
        return (response.StatusCode, response.Headers.TryGetValues("x-scheduler-job-id", out var ids) ? ids.Single() : null);
    }

    [Fact]
    public async Task WithoutMaxTokens_UnderASmallTokensPerMinuteQuota_IsFittedToTheQuota_AndEndsLength()
    {
        // A chat without max_tokens got the model's whole output budget (512 here): against a quota of 100 tokens a minute
        // it was a 429 telling the client to lower a max_tokens it never sent.
        var key = await TenantWithTokensPerMinute(100);
        var chat = new[] { new { role = "user", content = "Name a colour." } };

        var (status, body, headers) = await Send("/v1/chat/completions", new { model = SchedulerCluster.Model, messages = chat }, key);

        Assert.Equal(HttpStatusCode.OK, status);
        using var grpc = cluster.ClientWithKey(key);
        var job = await grpc.GetAsync(headers.GetValues("x-scheduler-job-id").Single());
        Assert.Equal(100, job.PromptTokens + job.MaxTokens);
        var usage = body.GetProperty("usage");
        Assert.Equal((job.MaxTokens, "length"), (usage.GetProperty("completion_tokens").GetInt32(), body.GetProperty("choices")[0].GetProperty("finish_reason").GetString()));

        // The same chat with max_tokens that does not fit keeps its refusal, naming max_tokens, which it did send.
        var (sent, sentBody, _) = await Send("/v1/chat/completions", new { model = SchedulerCluster.Model, messages = chat, max_tokens = 200 }, key);
        Assert.Equal(HttpStatusCode.TooManyRequests, sent);
        Assert.StartsWith("max_tokens: ", sentBody.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithoutMaxTokens_APromptOverTheTokensPerMinuteQuota_Is429NamingThePrompt_NotMaxTokens()
    {
        var key = await TenantWithTokensPerMinute(100);

        var (chat, chatBody, _) = await Send("/v1/chat/completions", new { model = SchedulerCluster.Model, messages = new[] { new { role = "user", content = string.Join(' ', Enumerable.Repeat("colour", 150)) } } }, key);
        var (completion, completionBody, _) = await Send("/v1/completions", new { model = SchedulerCluster.Model, prompt = Enumerable.Range(1, 100) }, key);

        Assert.Equal((HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests), (chat, completion));
        var chatMessage = chatBody.GetProperty("error").GetProperty("message").GetString()!;
        Assert.Matches("^messages: [0-9]+ prompt tokens leave no room to generate within what tenant '[^']+' may use in a minute", chatMessage);
        Assert.DoesNotContain("max_tokens", chatMessage, StringComparison.Ordinal);
        var completionMessage = completionBody.GetProperty("error").GetProperty("message").GetString()!;
        Assert.StartsWith("prompt: 100 prompt tokens leave no room to generate", completionMessage, StringComparison.Ordinal);
        Assert.Contains("limit 100, requested 101", completionMessage, StringComparison.Ordinal);
        Assert.DoesNotContain("max_tokens", completionMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnAcceptedRequest_HasOpenAisRateLimitHeaders_OfItsTenantsQuotas_NoneWithoutQuotas()
    {
        using var admin = cluster.Admin();
        var key = "openai-headers-key-" + Guid.NewGuid().ToString("N")[..8];
        await admin.PutTenantAsync(new PutTenantRequest
        {
            TenantId = "openai-headers-" + Guid.NewGuid().ToString("N")[..8], Weight = 1, ApiKey = key, Quotas = new TenantQuotas { RequestsPerMinute = 10, TokensPerMinute = 1000 },
        });

        var (status, _, headers) = await Send("/v1/completions", new { model = SchedulerCluster.Model, prompt = Enumerable.Range(1, 10), max_tokens = 5 }, key);

        // This request took one request and its 15 tokens; the buckets refill continuously, a few tokens since.
        Assert.Equal(HttpStatusCode.OK, status);
        string Header(string name) => headers.TryGetValues(name, out var values) ? values.Single() : $"(no {name})";
        Assert.Equal(("10", "9", "1000"), (Header("x-ratelimit-limit-requests"), Header("x-ratelimit-remaining-requests"), Header("x-ratelimit-limit-tokens")));
        Assert.InRange(int.Parse(Header("x-ratelimit-remaining-tokens"), System.Globalization.CultureInfo.InvariantCulture), 985, 999);
        Assert.Matches("^[0-9]+ms$", Header("x-ratelimit-reset-tokens"));
        Assert.Matches("^[0-9]+(\\.[0-9]+)?s$", Header("x-ratelimit-reset-requests"));

        var (unlimited, _, none) = await Send("/v1/completions", new { model = SchedulerCluster.Model, prompt = "x", max_tokens = 2 }, SchedulerCluster.Tenants[0].Key);
        Assert.Equal(HttpStatusCode.OK, unlimited);
        Assert.DoesNotContain(none, h => h.Key.StartsWith("x-ratelimit-", StringComparison.OrdinalIgnoreCase));
    }

    private async Task<string> TenantWithTokensPerMinute(long tokensPerMinute)
    {
        using var admin = cluster.Admin();
        var key = "openai-tpm-key-" + Guid.NewGuid().ToString("N")[..8];
        await admin.PutTenantAsync(new PutTenantRequest
        {
            TenantId = "openai-tpm-" + Guid.NewGuid().ToString("N")[..8], Weight = 1, ApiKey = key, Quotas = new TenantQuotas { TokensPerMinute = tokensPerMinute },
        });
        return key;
    }

    private static void AssertError(HttpStatusCode status, JsonElement body, string param, string message)
    {
        var error = body.GetProperty("error");
        Assert.Equal(
            (HttpStatusCode.BadRequest, "invalid_request_error", param, message),
            (status, error.GetProperty("type").GetString(), error.GetProperty("param").GetString(), error.GetProperty("message").GetString()));
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> Post(string path, object request)
    {
        var (status, body, _) = await Send(path, request, SchedulerCluster.Tenants[0].Key);
        return (status, body);
    }

    private async Task<(HttpStatusCode Status, JsonElement Body, System.Net.Http.Headers.HttpResponseHeaders Headers)> Send(string path, object request, string key)
    {
        using var http = new HttpClient();
        using var message = new HttpRequestMessage(HttpMethod.Post, cluster.OpenAiAddress + path)
        {
            Content = new StringContent(JsonSerializer.Serialize(request), Encoding.UTF8, "application/json"),
        };
        message.Headers.Authorization = new("Bearer", key);
        using var response = await http.SendAsync(message);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement, response.Headers);
    }
}
