using System.Net;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Scheduler.Protos.V1;
using Scheduler.Silo.Api;
using Scheduler.Silo.Models;

namespace Scheduler.Tests.EndToEnd.Hostile;

/// <summary>Oversized messages, absurd numbers and unicode edge cases, over real gRPC: each gets a clear status.</summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed class OversizedAndUnicodeInputTests(SchedulerCluster cluster)
{
    // The fixture runs with the default transport limit.
    private static readonly int MaxReceiveBytes = new ApiOptions().MaxReceiveMessageBytes;

    [Fact]
    public async Task SubmitJob_MessageOverTheTransportLimit_IsResourceExhaustedNamingTheLimit()
    {
        using var client = cluster.Tenant(0);
        var request = new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = new string('a', MaxReceiveBytes + 1024), MaxTokens = 4 };
        var ex = await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(request));
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.Equal($"Received message exceeds the maximum configured message size of {MaxReceiveBytes} bytes.", ex.Status.Detail);
        await AssertStillServing();
    }

    [Fact]
    public async Task StreamJob_MessageOverTheTransportLimit_IsResourceExhaustedNamingTheLimitToo()
    {
        using var client = cluster.Tenant(0);
        var request = new SubmitJobRequest { Model = SchedulerCluster.Model, MaxTokens = 4 };
        // int.MaxValue takes five bytes as a varint: this is more ids than the transport limit can carry.
        request.PromptTokenIds.AddRange(Enumerable.Repeat(int.MaxValue, (MaxReceiveBytes / 5) + 1024));
        var ex = await Assert.ThrowsAsync<RpcException>(() => client.RunAsync(request));
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.Equal($"Received message exceeds the maximum configured message size of {MaxReceiveBytes} bytes.", ex.Status.Detail);
    }

    [Fact]
    public async Task StreamJobs_MessageOverTheTransportLimitAfterAGoodOne_EndsTheCallResourceExhaustedNamingTheLimit()
    {
        using var client = cluster.Tenant(0);
        using var call = client.StreamMany(DateTime.UtcNow.AddSeconds(30));
        await call.RequestStream.WriteAsync(new StreamJobsRequest { Ref = "small", Job = new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "small", MaxTokens = 2 } });
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        var large = new StreamJobsRequest { Ref = "large", Job = new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = new string('a', MaxReceiveBytes + 1024), MaxTokens = 2 } };

        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            try
            {
                await call.RequestStream.WriteAsync(large);
            }
            catch (RpcException)
            {
                // The silo ended the call while the message was still being written (the write reads "cancelled"):
                // the call's own status follows.
            }

            while (await call.ResponseStream.MoveNext(CancellationToken.None))
            {
            }
        });
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.Equal($"Received message exceeds the maximum configured message size of {MaxReceiveBytes} bytes.", ex.Status.Detail);
    }

    [Fact]
    public async Task SubmitJob_PromptUnderTheTransportLimitButOverMaxPromptBytes_IsInvalidArgumentNamingPrompt()
    {
        using var client = cluster.Tenant(0);
        var request = new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = new string('b', 2 << 20), MaxTokens = 4 };
        var ex = await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(request));
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith("prompt:", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SubmitJob_TextPromptOverTheModelsContext_IsInvalidArgumentNamingPrompt()
    {
        using var client = cluster.Tenant(0);

        // 140,000 words, each at least a token: under the transport's and max_prompt_bytes' limits, beyond a
        // 131,072-token context.
        var prompt = string.Join(' ', Enumerable.Range(0, 140_000).Select(i => "w" + (i % 997)));
        var ex = await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = prompt, MaxTokens = 4 }));
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith("prompt:", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("context", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData('x')]
    [InlineData(' ')]
    [InlineData('!')]
    [InlineData('\u0301')]
    public async Task SubmitJob_OneHugeRunUnderMaxPromptBytes_IsRefusedQuickly(char c)
    {
        // A 900 KB run of one character class is a BPE tokenizer's worst case (over 20 s to count before the guard).
        using var client = cluster.Tenant(0);
        var request = new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "a " + new string(c, 900_000) + " b", MaxTokens = 4 };
        var ex = await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(request, deadline: DateTime.UtcNow.AddSeconds(5)));
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith("prompt:", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SubmitJob_LongButBoundedWord_IsCountedExactly()
    {
        using var client = cluster.Tenant(0);
        var word = new string('q', PromptRuns.MaxRunLength);
        var job = await client.SubmitAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = word, MaxTokens = 1 }, deadline: DateTime.UtcNow.AddSeconds(5));
        Assert.Equal(Tokenizer().CountTokens(word), job.PromptTokens);
        await client.AttachAsync(job.JobId);
    }

    [Theory]
    [InlineData(int.MaxValue)]
    [InlineData(int.MinValue)]
    [InlineData(-1)]
    [InlineData(SchedulerCluster.MaxOutputTokens + 1)]
    public async Task SubmitJob_HugeOrNegativeMaxTokens_IsInvalidArgumentNamingMaxTokens(int maxTokens)
    {
        using var client = cluster.Tenant(0);
        var ex = await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "hi", MaxTokens = maxTokens }));
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith("max_tokens:", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("👩‍👩‍👧‍👦 family, 🏳️‍🌈 flag, 𝕏 astral")]
    [InlineData("e\u0301\u0301\u0301\u0301 z\u0336\u0336\u0336 combining marks")]
    [InlineData("\u202Eright-to-left override\u202C and עברית, العربية")]
    [InlineData("nul\0inside\0the prompt")]
    [InlineData("\uFEFFbom, zero\u200Bwidth, noncharacter \uFFFF, replacement \uFFFD")]
    [InlineData("\r\n\t\v\f control characters \u0007")]
    public async Task StreamJob_UnicodeEdgeCases_AreAcceptedAndCountedWithTheTokenizer(string text)
    {
        using var client = cluster.Tenant(1);
        var request = new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = text, Stop = text, MaxTokens = 3, IdempotencyKey = "unicode-" + Guid.NewGuid() };
        var result = await client.RunAsync(request, deadline: DateTime.UtcNow.AddSeconds(30));
        Assert.True(result.Succeeded, $"{result.Status} {result.Error}");
        Assert.Equal(Tokenizer().CountTokens(text), result.Usage!.PromptTokens);

        // The same key, byte for byte, is the same job.
        var again = await client.SubmitAsync(request);
        Assert.Equal(result.JobId, again.JobId);
    }

    [Theory]
    [InlineData("nul\0inside")]
    [InlineData("tab\tinside")]
    [InlineData("space inside")]
    [InlineData(" leading")]
    [InlineData("caf\u00E9")]
    [InlineData("cafe\u0301")]
    [InlineData("emoji-\U0001F600")]
    [InlineData("del\u007F")]
    public async Task SubmitJob_IdempotencyKeyOutsideVisibleAscii_IsInvalidArgumentNamingIt_AndTheCharacter(string key)
    {
        // Taken before, though the OpenAI door's Idempotency-Key header cannot carry NUL or bytes that are not UTF-8,
        // and HTTP trims spaces: a key a gRPC client used could not be repeated over HTTP.
        using var client = cluster.Tenant(1);
        var request = new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "a", MaxTokens = 1, IdempotencyKey = key + Guid.NewGuid().ToString("N") };

        var ex = await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(request));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        var refused = key.EnumerateRunes().First(r => r.Value is < '!' or > '~');
        Assert.Equal(
            $"idempotency_key: must be visible ASCII characters without spaces, U+0021 to U+007E (the OpenAI-compatible API carries it in an 'Idempotency-Key' header); got U+{refused.Value:X4}",
            ex.Status.Detail);
        Assert.Equal("idempotency_key", Assert.Single(ex.GetRpcStatus()?.GetDetail<Google.Rpc.BadRequest>()?.FieldViolations ?? []).Field);
    }

    [Fact]
    public async Task SubmitJob_IdempotencyKeyOfEveryVisibleAsciiCharacter_IsAccepted_AndTheSameJobAgain()
    {
        using var client = cluster.Tenant(1);
        var visible = new string([.. Enumerable.Range('!', '~' - '!' + 1).Select(c => (char)c)]);
        var request = new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "a", MaxTokens = 1, IdempotencyKey = visible + Guid.NewGuid().ToString("N") };

        var first = await client.SubmitAsync(request);
        var again = await client.SubmitAsync(request);

        Assert.Equal(first.JobId, again.JobId);
        await client.AttachAsync(first.JobId);
    }

    [Fact]
    public async Task SubmitJob_LoneSurrogateInTheClientsString_ArrivesAsReplacementCharacter()
    {
        // A .NET client cannot put a lone surrogate on the wire: protobuf encodes it as U+FFFD, which is what we count.
        using var client = cluster.Tenant(1);
        var job = await client.SubmitAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "a\uD800b", MaxTokens = 1 });
        Assert.Equal(Tokenizer().CountTokens("a\uFFFDb"), job.PromptTokens);
        await client.AttachAsync(job.JobId);
    }

    [Theory]
    [InlineData(2)] // prompt
    [InlineData(7)] // idempotency_key
    [InlineData(8)] // stop
    public async Task SubmitJob_InvalidUtf8Bytes_AreRefusedBeforeTheHandler_AndTheSiloKeepsServing(int field)
    {
        // Other clients can send bytes that are not UTF-8 in a string field; this hand-builds such a request.
        using var body = new MemoryStream();
        using var output = new CodedOutputStream(body, leaveOpen: true);
        output.WriteTag(1, WireFormat.WireType.LengthDelimited);
        output.WriteString(SchedulerCluster.Model);
        if (field != 2)
        {
            output.WriteTag(2, WireFormat.WireType.LengthDelimited);
            output.WriteString("ok");
        }

        output.WriteTag(field, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFrom(0x61, 0xC3, 0x28, 0xFF, 0xFE, 0xED, 0xA0, 0x80, 0x62));
        output.WriteTag(4, WireFormat.WireType.Varint);
        output.WriteInt32(2);
        output.Flush();

        var method = new Method<byte[], Job>(
            MethodType.Unary, InferenceService.Descriptor.FullName, "SubmitJob",
            Marshallers.Create(b => b, b => b), Marshallers.Create((Job j) => j.ToByteArray(), Job.Parser.ParseFrom));
        var headers = new Metadata { { "authorization", "Bearer " + SchedulerCluster.Tenants[1].Key } };
        var ex = await Assert.ThrowsAsync<RpcException>(() => cluster.Channel.CreateCallInvoker().AsyncUnaryCall(method, null, new CallOptions(headers), body.ToArray()).ResponseAsync);

        // Protobuf refuses the message while it is parsed, before any interceptor runs: the silo's request
        // marshaller (StrictParsingMethodProvider) answers for it.
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith("request: not a valid SubmitJobRequest message", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("UTF-8", ex.Status.Detail, StringComparison.Ordinal);
        await AssertStillServing();
    }

    [Theory]
    [InlineData("tenant-😀-emoji")]
    [InlineData("tenant-e\u0301-combining")]
    [InlineData("tenant-\u05E2\u05D1-rtl")]
    public async Task PutTenant_UnicodeIds_AreAcceptedAndFoundAgain(string id)
    {
        using var admin = cluster.Admin();
        var put = await admin.PutTenantAsync(new PutTenantRequest { TenantId = id, Weight = 1 });
        Assert.Equal(id, put.TenantId);
        Assert.Equal(id, (await admin.GetTenantAsync(id)).TenantId);
    }

    [Theory]
    [InlineData("tenant\0nul")]
    [InlineData("tenant with space")]
    [InlineData("tenant\u2028line-separator")]
    public async Task PutTenant_ControlOrSpaceInId_IsInvalidArgumentNamingTenantId(string id)
    {
        using var admin = cluster.Admin();
        var ex = await Assert.ThrowsAsync<RpcException>(() => admin.PutTenantAsync(new PutTenantRequest { TenantId = id, Weight = 1 }));
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith("tenant_id:", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetJob_HugeJobId_IsAnsweredWithAShortDetail()
    {
        // Errors echo ids: a 1 MB id must not come back as a 1 MB status header the client cannot read.
        using var client = cluster.Tenant(0);
        var ex = await Assert.ThrowsAsync<RpcException>(() => client.GetAsync(new string('j', 1 << 20)));
        Assert.Contains(ex.StatusCode, new[] { StatusCode.InvalidArgument, StatusCode.NotFound });
        Assert.InRange(ex.Status.Detail.Length, 1, 512);
    }

    [Fact]
    public async Task SubmitJob_HugeModelName_IsNotFoundWithAShortDetail()
    {
        using var client = cluster.Tenant(0);
        var ex = await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(new SubmitJobRequest { Model = new string('m', 1 << 20), Prompt = "a", MaxTokens = 1 }));
        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
        Assert.InRange(ex.Status.Detail.Length, 1, 512);
    }

    [Fact]
    public async Task NotFound_ALongIdCutInsideAnEmoji_EchoesWholeCharactersOnly()
    {
        // The cut at 64 UTF-16 units fell between an emoji's two halves: the client read U+FFFD where its emoji was.
        var id = new string('j', 63) + "\U0001F600" + "tail";
        using var client = cluster.Tenant(0);
        var ex = await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(new SubmitJobRequest { Model = id, Prompt = "a", MaxTokens = 1 }));

        Assert.Equal((StatusCode.NotFound, $"model '{new string('j', 63)}…' not found"), (ex.StatusCode, ex.Status.Detail));
        Assert.Equal(new string('j', 63) + "…", ex.GetRpcStatus()?.GetDetail<Google.Rpc.ResourceInfo>()?.ResourceName);
    }

    private Microsoft.ML.Tokenizers.Tokenizer Tokenizer()
    {
        cluster.SiloServices.GetRequiredService<ModelCatalog>().TryGet(SchedulerCluster.Model, out var model);
        return model.Tokenizer;
    }

    [Fact]
    public async Task OpenAiBody_OverTheRequestLimit_Is413NamingIt_WhileAWorstCaseValidPromptIsStillRead()
    {
        // Kestrel's default of 30,000,000 bytes let 40 concurrent 29 MB bodies take the standalone silo from 0.5 to
        // 6.3 GB, each parsed and rendered before its prompt was refused.
        using var http = new HttpClient { BaseAddress = new Uri(cluster.OpenAiAddress) };
        http.DefaultRequestHeaders.Authorization = new("Bearer", SchedulerCluster.Tenants[0].Key);

        // As curl sends a large body: the 413 comes before it. Kestrel answers an over-long Content-Length at once and
        // closes the connection; a client still writing the body then reads a reset (this one), or the 413 (curl,
        // Python's requests, Node's fetch, the openai npm package: all checked by hand).
        http.DefaultRequestHeaders.ExpectContinue = true;

        using var largeBody = Json($$"""{"model":"{{SchedulerCluster.Model}}","prompt":"{{new string('a', MaxReceiveBytes + 1024)}}"}""");
        using var large = await http.PostAsync("/v1/completions", largeBody);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, large.StatusCode);
        var error = JsonDocument.Parse(await large.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Contains($"The max request body size is {MaxReceiveBytes} bytes", error.GetProperty("message").GetString(), StringComparison.Ordinal);

        // The largest a valid prompt gets as JSON: a model's MaxPromptBytes of control characters, each a six-byte
        // escape. It is read, and judged by what it says.
        var escaped = string.Concat(Enumerable.Repeat(@"\u0001", new ModelOptions().MaxPromptBytes));
        using var worstBody = Json($$"""{"model":"{{SchedulerCluster.Model}}","prompt":"{{escaped}}"}""");
        using var worst = await http.PostAsync("/v1/completions", worstBody);
        Assert.Equal(HttpStatusCode.BadRequest, worst.StatusCode);
        Assert.Equal("prompt", JsonDocument.Parse(await worst.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("param").GetString());
        await AssertStillServing();

        static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
    }

    private async Task AssertStillServing()
    {
        using var client = cluster.Tenant(2);
        var result = await client.RunAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "still there?", MaxTokens = 3 }, deadline: DateTime.UtcNow.AddSeconds(30));
        Assert.True(result.Succeeded, $"{result.Status} {result.Error}");
    }
}
