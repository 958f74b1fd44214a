using Microsoft.AspNetCore.Http;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Scheduler.Abstractions.Jobs;
using Scheduler.Silo.Api;
using Scheduler.Silo.OpenAi;

namespace Scheduler.Tests.Silo.OpenAi;

public sealed class OpenAiErrorsTests
{
    private readonly OpenAiErrors _errors = new(NullLogger<OpenAiErrors>.Instance);

    [Theory]
    [InlineData("temperature", false, "temperature")]
    [InlineData("stop_sequences", false, "stop")]
    [InlineData("prompt_token_ids", false, "prompt")]
    [InlineData("prompt", false, "prompt")]
    [InlineData("prompt", true, "messages")]
    [InlineData("deadline_ms", true, "x-scheduler-deadline-ms")]
    [InlineData("ttft_objective_ms", false, "x-scheduler-ttft-objective-ms")]
    [InlineData("idempotency_key", false, "Idempotency-Key")]
    public void Map_InvalidArgument_Is400NamingTheRequestsParam(string field, bool chat, string param)
    {
        var error = _errors.Map(SchedulerErrors.InvalidArgument(field, "is wrong"), chat ? OpenAiKind.Chat : OpenAiKind.Completion);

        Assert.Equal((400, "invalid_request_error", param), (error.Status, error.Type, error.Param));
    }

    [Theory]
    [InlineData("stop_sequences", false, "stop: is wrong")]
    [InlineData("prompt", true, "messages: is wrong")]
    [InlineData("idempotency_key", false, "Idempotency-Key: is wrong")]
    [InlineData("temperature", false, "temperature: is wrong")]
    public void Map_InvalidArgument_MessageLeadsWithTheRequestsParam(string field, bool chat, string message)
    {
        var error = _errors.Map(SchedulerErrors.InvalidArgument(field, "is wrong"), chat ? OpenAiKind.Chat : OpenAiKind.Completion);

        Assert.Equal(message, error.Message);
    }

    [Theory]
    [InlineData("/v1/completions", "POST")]
    [InlineData("/v1/chat/completions/", "POST")]
    [InlineData("/v1/models", "GET")]
    [InlineData("/v1/models/llama-3.1-8b", "GET")]
    [InlineData("/v1/models/org/model-x", "GET")]
    [InlineData("/v1/modelsx/a", null)]
    [InlineData("/v1/embeddings", null)]
    public void RouteErrors_MethodOf_IsTheMethodTheApiServesAPathWith(string path, string? method) =>
        Assert.Equal(method, OpenAiRouteErrors.MethodOf(new PathString(path)));

    [Fact]
    public void Map_MaxTokensRefused_NamesTheFieldTheRequestSetItWith()
    {
        var refusal = SchedulerErrors.InvalidArgument("max_tokens", "must be between 1 and 4096");

        var error = _errors.Map(refusal, OpenAiKind.Chat, "max_completion_tokens");

        Assert.Equal(("max_completion_tokens", "max_completion_tokens: must be between 1 and 4096"), (error.Param, error.Message));
        Assert.Equal("max_tokens", _errors.Map(refusal, OpenAiKind.Chat).Param);
    }

    [Fact]
    public void RouteErrors_NoRouteAndWrongMethod_SayWhatIsServedAndWhichMethod()
    {
        var unknown = OpenAiRouteErrors.For(404, "POST", "/v1/embeddings", "");
        Assert.Equal((404, "invalid_request_error", "unknown_url"), (unknown.Status, unknown.Type, unknown.Code));
        Assert.StartsWith("no route POST /v1/embeddings: this API serves POST /v1/completions", unknown.Message);

        var method = OpenAiRouteErrors.For(405, "GET", "/v1/chat/completions", "POST");
        Assert.Equal((405, "method_not_allowed", "GET is not allowed on /v1/chat/completions; use POST"), (method.Status, method.Code, method.Message));

        Assert.Equal((413, "invalid_request_error", "Payload Too Large"), Shape(OpenAiRouteErrors.For(413, "POST", "/v1/completions", "")));
        Assert.Equal((502, "server_error", "Bad Gateway"), Shape(OpenAiRouteErrors.For(502, "POST", "/v1/completions", "")));

        static (int, string, string) Shape(OpenAiError e) => (e.Status, e.Type, e.Message);
    }

    [Theory]
    [InlineData("POST", "/chat/completions", "no route POST /chat/completions: this API's routes are under /v1 (POST /v1/chat/completions); the client's base URL probably lacks /v1")]
    [InlineData("GET", "/models/m", "no route GET /models/m: this API's routes are under /v1 (GET /v1/models/m); the client's base URL probably lacks /v1")]
    [InlineData("GET", "/metrics", "no route GET /metrics: this API serves POST /v1/completions, ")]
    [InlineData("POST", "/v1/v1/completions", "no route POST /v1/v1/completions: this API serves POST /v1/completions, ")]
    public void RouteErrors_NoRoute_OneOfTheApisWithoutV1_SaysTheBaseUrlLacksIt(string method, string path, string message)
    {
        var error = OpenAiRouteErrors.For(404, method, path, "");

        Assert.Equal((404, "invalid_request_error", "unknown_url"), (error.Status, error.Type, error.Code));
        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("POST", "/v1/Chat/Completions", "POST /v1/chat/completions")]
    [InlineData("POST", "/V1/completions/", "POST /v1/completions")]
    [InlineData("GET", "/v1/Models/Org/Model-X", "GET /v1/models/Org/Model-X")]
    public void RouteErrors_NoRoute_OneOfTheApisInAnotherCase_SaysPathsAreCaseSensitive_AndNamesItAsServed(string method, string path, string served)
    {
        // It was answered as any unknown path, with the list of every route.
        var error = OpenAiRouteErrors.For(404, method, path, "");

        Assert.Equal((404, "unknown_url"), (error.Status, error.Code));
        Assert.Equal($"no route {method} {path}: paths are case-sensitive; this API serves {served}", error.Message);
        Assert.Null(OpenAiRouteErrors.MethodOf(new PathString(path)));
    }

    [Fact]
    public void Map_StatusesOfTheSubmissionPath_AreOpenAisStatuses()
    {
        Assert.Equal((404, "model", "model_not_found"), Shape(SchedulerErrors.NotFound("model", "x")));
        Assert.Equal((401, null, "invalid_api_key"), Shape(SchedulerErrors.Unauthenticated("invalid API key")));
        Assert.Equal((403, null, "permission_denied"), Shape(SchedulerErrors.PermissionDenied("no")));
        Assert.Equal((409, "Idempotency-Key", "idempotency_key_reused"), Shape(SchedulerErrors.AlreadyExists("TAKEN", "taken")));
        Assert.Equal((503, null, "unavailable"), Shape(SchedulerErrors.Draining()));
        Assert.Equal(
            "this scheduler silo is draining: send the request again and another silo answers it; with the same Idempotency-Key it is the same job, its answer from the start",
            _errors.Map(SchedulerErrors.Draining(), OpenAiKind.Chat).Message);
        Assert.Equal((503, null, "unavailable"), Shape(new TimeoutException()));
        Assert.Equal((400, "prompt", null), Shape(SchedulerErrors.FailedPrecondition("KV_CACHE_CAPACITY", "prompt", "prompt: too long for every replica")));
        Assert.Equal((500, null, null), Shape(new InvalidOperationException("secret detail")));
        Assert.Equal("internal error", _errors.Map(new InvalidOperationException("secret detail"), OpenAiKind.Chat).Message);
    }

    [Fact]
    public void Map_PromptOverTheContextOrEveryReplicasKvCache_HasOpenAisContextLengthCode()
    {
        var context = SchedulerErrors.OverContext(SchedulerErrors.InvalidArgument("prompt", "5000 prompt tokens + max_tokens 4 exceed the model's context of 4096 tokens"));
        var kv = SchedulerErrors.OverContext(SchedulerErrors.FailedPrecondition("KV_CACHE_CAPACITY", "prompt", "prompt: too long for every replica"));

        Assert.Equal((400, "invalid_request_error", "messages", "context_length_exceeded"), Shape(_errors.Map(context, OpenAiKind.Chat)));
        Assert.Equal((400, "invalid_request_error", "prompt", "context_length_exceeded"), Shape(_errors.Map(kv, OpenAiKind.Completion)));

        // Other refusals of the prompt are not about its length.
        Assert.Null(_errors.Map(SchedulerErrors.InvalidArgument("prompt", "is required"), OpenAiKind.Completion).Code);

        static (int, string, string?, string?) Shape(OpenAiError e) => (e.Status, e.Type, e.Param, e.Code);
    }

    [Fact]
    public void Map_ResourceExhausted_Is429_WithTheQuotasRetryHintRoundedUp()
    {
        var error = _errors.Map(SchedulerErrors.ResourceExhausted("over requests_per_minute", TimeSpan.FromMilliseconds(1500.2)), OpenAiKind.Completion);

        Assert.Equal((429, "requests", "rate_limit_exceeded", 1501L), (error.Status, error.Type, error.Code, error.RetryAfterMs));
        Assert.Null(_errors.Map(SchedulerErrors.ResourceExhausted("never", null), OpenAiKind.Completion).RetryAfterMs);
    }

    [Theory]
    [InlineData("tokens_per_minute", "tokens")]
    [InlineData("requests_per_minute", "requests")]
    [InlineData("max_queued_jobs", "requests")]
    public void Map_RateLimited_TypeSaysWhichLimit_AsOpenAi_AndItsHeadersComeAlong(string quota, string type)
    {
        // The type was "rate_limit_error" whichever limit it was; OpenAI's API says "tokens" or "requests".
        var refusal = Scheduler.Protos.Errors.RichErrors.WithTrailers(
            SchedulerErrors.RateLimited("used up", TimeSpan.FromSeconds(2), quota, 100),
            [KeyValuePair.Create("x-ratelimit-limit-tokens", "100"), KeyValuePair.Create("x-ratelimit-remaining-tokens", "3")]);

        var error = _errors.Map(refusal, OpenAiKind.Chat);

        Assert.Equal((429, type, "rate_limit_exceeded", 2000L), (error.Status, error.Type, error.Code, error.RetryAfterMs));
        Assert.Equal([KeyValuePair.Create("x-ratelimit-limit-tokens", "100"), KeyValuePair.Create("x-ratelimit-remaining-tokens", "3")], error.RateLimits);
    }

    [Fact]
    public void Map_LargerThanTheTokensQuota_Is429OfTypeTokens()
    {
        var error = _errors.Map(SchedulerErrors.LargerThanQuota("max_tokens", "too large", "tokens_per_minute", 100, 120), OpenAiKind.Chat);

        Assert.Equal((429, "tokens", "rate_limit_exceeded", null), (error.Status, error.Type, error.Code, error.RetryAfterMs));
    }

    [Fact]
    public void Map_ShedUnderOverload_Is503ServerIsOverloaded_WithTheRetryHint()
    {
        var shed = SchedulerErrors.Overloaded(SchedulerErrors.ResourceExhausted("model 'm' is overloaded", TimeSpan.FromSeconds(2)));

        var error = _errors.Map(shed, OpenAiKind.Chat);

        Assert.Equal((503, "server_error", "server_is_overloaded", 2000L), (error.Status, error.Type, error.Code, error.RetryAfterMs));
        Assert.StartsWith("model 'm' is overloaded", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ForEnd_JobsThatEndWithoutCompleting_AreErrors()
    {
        var now = DateTimeOffset.UnixEpoch;
        Assert.Equal((500, "job_failed"), Status(OpenAiErrors.ForEnd(new JobEventRecord("j", JobEventKind.Failed, now, Error: "engine broke"), OpenAiKind.Completion)));
        Assert.Equal((504, "deadline_exceeded"), Status(OpenAiErrors.ForEnd(new JobEventRecord("j", JobEventKind.Expired, now, Error: "DEADLINE_EXCEEDED"), OpenAiKind.Completion)));
        Assert.Equal((409, "job_cancelled"), Status(OpenAiErrors.ForEnd(new JobEventRecord("j", JobEventKind.Cancelled, now), OpenAiKind.Completion)));
    }

    [Fact]
    public void ForEnd_AJobItsEngineFoundTooLongOrOutOfVocabulary_IsTheRequestsFault_A400NamingThePrompt()
    {
        var now = DateTimeOffset.UnixEpoch;
        JobEventRecord Failed(string reason) => new("j", JobEventKind.Failed, now, Error: Scheduler.Silo.Nodes.EngineFailures.Describe(
            new Scheduler.Protos.V1.SequenceFinished { Reason = Scheduler.Protos.V1.FinishReason.Error, Error = "prompt is 3,302 tokens", ErrorReason = reason }));

        var tooLong = OpenAiErrors.ForEnd(Failed("CONTEXT_LENGTH_EXCEEDED"), OpenAiKind.Chat);
        Assert.Equal((400, "invalid_request_error", "context_length_exceeded", "messages"), (tooLong.Status, tooLong.Type, tooLong.Code, tooLong.Param));
        Assert.Equal("the prompt does not fit the model's context: prompt is 3,302 tokens", tooLong.Message);
        Assert.Equal("prompt", OpenAiErrors.ForEnd(Failed("CONTEXT_LENGTH_EXCEEDED"), OpenAiKind.Completion).Param);

        var vocabulary = OpenAiErrors.ForEnd(Failed("TOKEN_OUT_OF_VOCABULARY"), OpenAiKind.Completion);
        Assert.Equal((400, "invalid_request_error", (string?)null, "prompt"), (vocabulary.Status, vocabulary.Type, vocabulary.Code, vocabulary.Param));

        // An engine's own failure stays the server's.
        Assert.Equal((500, "job_failed"), Status(OpenAiErrors.ForEnd(Failed(""), OpenAiKind.Chat)));
    }

    [Fact]
    public void ToJson_IsOpenAisErrorShape()
    {
        var json = System.Text.Json.JsonDocument.Parse(new OpenAiError(400, "invalid_request_error", "n: no", "n").ToJson()).RootElement.GetProperty("error");

        Assert.Equal("n: no", json.GetProperty("message").GetString());
        Assert.Equal("invalid_request_error", json.GetProperty("type").GetString());
        Assert.Equal("n", json.GetProperty("param").GetString());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, json.GetProperty("code").ValueKind);
    }

    private (int, string?, string?) Shape(Exception ex)
    {
        var error = _errors.Map(ex, OpenAiKind.Completion);
        return (error.Status, error.Param, error.Code);
    }

    private static (int, string?) Status(OpenAiError error) => (error.Status, error.Code);
}
