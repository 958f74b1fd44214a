using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Silo.Hosting;
using Scheduler.Testing;
using Scheduler.Tests.Worker.Llama;
using Scheduler.Worker.Engines;
using Scheduler.Worker.Engines.Llama;
using Scheduler.Worker.Hosting;

namespace Scheduler.Tests.EndToEnd;

/// <summary>
/// Jobs through the scheduler to a worker node running the llama engine on the tiny GGUF model, over real gRPC on
/// loopback: a silo hosted here and a node that registers with it. "tiny" has four slots, "tiny-one" one slot of the
/// same model file, "tiny-chat" the same model with a ChatML template in the GGUF (and Llama 3's in the catalog),
/// "tiny-script" a model that writes <see cref="TinyModelFixture.Script"/> (characters split across byte tokens) and
/// "tiny-cycle" one slot of a model that writes <see cref="TinyModelFixture.Cycle"/> over and over.
/// </summary>
public sealed class LlamaEngineEndToEndTests(TinyModelFixture tiny) : IClassFixture<TinyModelFixture>, IAsyncLifetime
{
    private const string Model = "tiny";
    private const string OneSlotModel = "tiny-one";
    private const string ChatModel = "tiny-chat";
    private const string ScriptModel = "tiny-script";
    private const string CycleModel = "tiny-cycle";
    private const string TenantKey = "llama-tenant-key";
    private const string AdminKey = "llama-admin-key";
    private const string NodeToken = "llama-node-token";
    private const string Prompt = "hello world, the fast model";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    // The tiny model decodes thousands of tokens a second: a job to cancel must outlast the cancel's round trip even
    // on a loaded machine (400 tokens did not, once).
    private const int LongJobTokens = 2000;

    private const string OneSlotReplica = $"llama-e2e-l4-1/{OneSlotModel}";

    private WebApplication _silo = null!;
    private WebApplication _node = null!;
    private string _address = "";

    public async Task InitializeAsync()
    {
        string[] args =
        [
            "--Scheduler:GrpcPort=0", "--Scheduler:HttpPort=0", "--Scheduler:OpenAiPort=0",
            $"--Scheduler:SiloPort={FreePort.Next()}", $"--Scheduler:GatewayPort={FreePort.Next()}",
            $"--Scheduler:AdminApiKey={AdminKey}", $"--Scheduler:NodeToken={NodeToken}",
            "--Scheduler:EmbeddedFleet:Enabled=false",
            $"--Scheduler:Models:0:Name={Model}", "--Scheduler:Models:0:MaxContextTokens=512", "--Scheduler:Models:0:MaxOutputTokens=400",
            $"--Scheduler:Models:1:Name={OneSlotModel}", $"--Scheduler:Models:1:MaxContextTokens={TinyGguf.TrainedContext}", $"--Scheduler:Models:1:MaxOutputTokens={LongJobTokens}",
            $"--Scheduler:Models:2:Name={ChatModel}", "--Scheduler:Models:2:MaxContextTokens=512", "--Scheduler:Models:2:ChatTemplate=llama3",
            $"--Scheduler:Models:3:Name={ScriptModel}", "--Scheduler:Models:3:MaxContextTokens=512",
            $"--Scheduler:Models:4:Name={CycleModel}", $"--Scheduler:Models:4:MaxContextTokens={TinyGguf.TrainedContext}", $"--Scheduler:Models:4:MaxOutputTokens={LongJobTokens}",
            "--Scheduler:Tenants:0:Id=llama-tenant", $"--Scheduler:Tenants:0:ApiKey={TenantKey}",
            "--Logging:LogLevel:Default=Warning",
        ];
        _silo = SchedulerHost.Build(args);
        await _silo.StartAsync();
        var address = _silo.Services.GetRequiredService<ListeningAddresses>().Grpc;

        _address = address;
        _node = await StartNodeAsync();
        await WaitForReadyReplicas(address);
    }

    /// <summary>The llama node, registered. Every replica holds one admission ahead (the default Worker:Model:QueueAhead).</summary>
    private async Task<WebApplication> StartNodeAsync()
    {
        // Stopped, it goes away at once (DrainTimeoutSeconds 0): what it ran is handed back. A drain is WorkerDrainTests'.
        var options = new WorkerNodeOptions
        {
            NodeId = "llama-e2e", SchedulerAddress = _address, NodeToken = NodeToken, Engine = EngineNames.Llama, DrainTimeoutSeconds = 0,
        };
        options.Model.Path = tiny.Path;
        options.Model.Threads = 1;
        options.Accelerators.Add(new AcceleratorOptions { Product = "L4", Model = Model, MaxContextTokens = 512 });
        options.Accelerators.Add(new AcceleratorOptions { Product = "L4", Model = OneSlotModel, MaxContextTokens = TinyGguf.TrainedContext, MaxSequences = 1 });
        options.Accelerators.Add(new AcceleratorOptions { Product = "L4", Model = ChatModel, MaxContextTokens = 512, ModelPath = tiny.ChatPath });
        options.Accelerators.Add(new AcceleratorOptions { Product = "L4", Model = ScriptModel, MaxContextTokens = 512, ModelPath = tiny.ScriptedPath });
        options.Accelerators.Add(new AcceleratorOptions { Product = "L4", Model = CycleModel, MaxContextTokens = TinyGguf.TrainedContext, MaxSequences = 1, ModelPath = tiny.CyclingPath });
        var node = WorkerNodeHost.Build(options);
        await node.StartAsync();
        await node.Services.GetRequiredService<WorkerNode>().Registered.WaitAsync(Timeout);
        return node;
    }

    public async Task DisposeAsync()
    {
        await _node.StopAsync();
        await _node.DisposeAsync();
        await _silo.StopAsync();
        await _silo.DisposeAsync();
    }

    [Fact]
    public async Task ConcurrentJobs_StreamTheModelsTokens_AndShareDecodeCalls()
    {
        using var client = new SchedulerClient(_address, TenantKey);
        var jobs = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => client.RunAsync(Request(Model, 200), deadline: DateTime.UtcNow + Timeout)));

        Assert.All(jobs, job =>
        {
            Assert.Equal((JobStatus.Completed, "length", 200), (job.Status, job.FinishReason, job.TokenCount));
            Assert.False(string.IsNullOrWhiteSpace(job.Text));

            // The usage counts the prompt with the model's own tokenizer, as the engine ran it.
            Assert.Equal(tiny.Model.Tokenize(Prompt).Length, job.Usage!.PromptTokens);
        });
        var stats = FourSlotEngine().Stats;
        Assert.InRange(stats.MaxBatchSequences, 2, 4);

        // The admin API shows the engine's own batch counters, from the node's report once the replica is idle.
        var replica = await ReplicaWithDecodeCallsAsync(stats.Decodes);
        Assert.Equal((stats.BatchedSequences, stats.MaxBatchSequences), (replica.EngineDecodeSequences, replica.EnginePeakDecodeSequences));
        Assert.Equal((stats.BatchedTokens, stats.MaxBatchTokens), (replica.EngineDecodeTokens, replica.EnginePeakDecodeTokens));
        Assert.Equal((double)stats.BatchedSequences / stats.Decodes, replica.EngineMeanSequencesPerDecode, precision: 9);
    }

    [Fact]
    public async Task RunJob_PromptAgain_ReusesTheCachedPrefix_ReportsItInTheUsage_AndGivesTheSameText()
    {
        using var client = new SchedulerClient(_address, TenantKey);
        var prompt = LlamaPrefixReuseTests.LongPrompt;
        var diverging = prompt + " but a new question";
        var first = await client.RunAsync(Request(Model, 24, seed: 5, prompt), deadline: DateTime.UtcNow + Timeout);
        var again = await client.RunAsync(Request(Model, 24, seed: 5, prompt), deadline: DateTime.UtcNow + Timeout);
        var other = await client.RunAsync(Request(Model, 24, seed: 5, diverging), deadline: DateTime.UtcNow + Timeout);

        Assert.True(first.Succeeded && again.Succeeded && other.Succeeded, $"{first.Error} {again.Error} {other.Error}");
        var promptTokens = tiny.Model.Tokenize(prompt);
        Assert.Equal((promptTokens.Length, 0), (first.Usage!.PromptTokens, first.Usage.CachedPromptTokens));
        Assert.Equal((promptTokens.Length, promptTokens.Length - 1), (again.Usage!.PromptTokens, again.Usage.CachedPromptTokens));
        Assert.Equal(first.Text, again.Text);

        // The diverging prompt found the slot the first two left, and reused only what it shares with them.
        var common = promptTokens.AsSpan().CommonPrefixLength(tiny.Model.Tokenize(diverging));
        Assert.Equal(common, other.Usage!.CachedPromptTokens);
        Assert.Equal(again.Usage.CachedPromptTokens, (await client.GetAsync(again.JobId)).Usage.CachedPromptTokens);
    }

    [Fact]
    public async Task SameSeed_GivesTheSameText_AndAStopTextEndsTheJobWithStop()
    {
        using var client = new SchedulerClient(_address, TenantKey);
        var first = await client.RunAsync(Request(Model, 24, seed: 11), deadline: DateTime.UtcNow + Timeout);
        var again = await client.RunAsync(Request(Model, 24, seed: 11), deadline: DateTime.UtcNow + Timeout);
        var stop = first.Text[10..16];
        var stopping = Request(Model, 24, seed: 11);
        stopping.StopSequences.Add(stop);
        var stopped = await client.RunAsync(stopping, deadline: DateTime.UtcNow + Timeout);

        Assert.Equal(first.Text, again.Text);
        Assert.Equal((JobStatus.Completed, "stop"), (stopped.Status, stopped.FinishReason));
        Assert.StartsWith(stopped.Text, first.Text, StringComparison.Ordinal);
        Assert.Contains(stop, stopped.Text, StringComparison.Ordinal);
        Assert.True(stopped.TokenCount < 24);
    }

    [Fact]
    public async Task Cancel_FreesTheOnlySlotForTheNextJob()
    {
        using var client = new SchedulerClient(_address, TenantKey);
        using var cts = new CancellationTokenSource(Timeout);
        string? jobId = null;
        var cancelled = false;
        await foreach (var e in client.StreamAsync(Request(OneSlotModel, LongJobTokens), cancellationToken: cts.Token))
        {
            jobId ??= e.JobId;
            if (e.EventCase == JobEvent.EventOneofCase.Tokens && !cancelled)
            {
                cancelled = true;
                await client.CancelAsync(jobId, cancellationToken: cts.Token);
            }

            if (e.EventCase is JobEvent.EventOneofCase.Cancelled or JobEvent.EventOneofCase.Completed)
            {
                Assert.Equal(JobEvent.EventOneofCase.Cancelled, e.EventCase);
                break;
            }
        }

        var next = await client.RunAsync(Request(OneSlotModel, 8), deadline: DateTime.UtcNow + Timeout);

        Assert.Equal((JobStatus.Completed, 8), (next.Status, next.TokenCount));
    }

    [Fact]
    public async Task JobQueuedAhead_StartsWhenTheOnlySlotFrees_WithoutWaitingForTheScheduler()
    {
        using var client = new SchedulerClient(_address, TenantKey);
        await using var running = await StreamedJob.StartAsync(client, Request(OneSlotModel, LongJobTokens));
        await running.FirstTokens.WaitAsync(Timeout);

        // The only slot is taken: the placement sends the next job to the node at once, which holds it.
        await using var next = await StreamedJob.StartAsync(client, Request(OneSlotModel, 8));
        await next.Admitted.WaitAsync(Timeout);
        var first = await running.Ended.WaitAsync(Timeout);
        var second = await next.Ended.WaitAsync(Timeout);

        Assert.Equal((JobEvent.EventOneofCase.Completed, LongJobTokens), (first.Kind, first.Tokens));
        Assert.Equal((JobEvent.EventOneofCase.Completed, 8), (second.Kind, second.Tokens));
        Assert.True(next.AdmittedAt < first.At, "the second job was admitted to the node only after the first ended");

        // The engine started it from its queue ahead: no admission came after the slot freed.
        Assert.Equal(1, OneSlotEngine().StartedAhead);
        await ReplicaRunningAsync(OneSlotReplica, 0);
    }

    [Fact]
    public async Task JobQueuedAhead_Cancelled_EndsCancelled_NeverRuns_AndItsReservationIsReleased()
    {
        using var client = new SchedulerClient(_address, TenantKey);
        await using var running = await StreamedJob.StartAsync(client, Request(OneSlotModel, LongJobTokens));
        await running.FirstTokens.WaitAsync(Timeout);
        await using var held = await StreamedJob.StartAsync(client, Request(OneSlotModel, 8));
        await held.Admitted.WaitAsync(Timeout);

        await client.CancelAsync(held.JobId);
        var cancelled = await held.Ended.WaitAsync(Timeout);
        var first = await running.Ended.WaitAsync(Timeout);

        Assert.Equal((JobEvent.EventOneofCase.Cancelled, 0), (cancelled.Kind, cancelled.Tokens));
        Assert.Equal((JobEvent.EventOneofCase.Completed, LongJobTokens), (first.Kind, first.Tokens));
        Assert.Equal(0, OneSlotEngine().StartedAhead);
        await ReplicaRunningAsync(OneSlotReplica, 0);
        var next = await client.RunAsync(Request(OneSlotModel, 8), deadline: DateTime.UtcNow + Timeout);
        Assert.Equal((JobStatus.Completed, 8), (next.Status, next.TokenCount));
    }

    [Fact]
    public async Task JobQueuedAhead_OnANodeThatStops_IsRequeued_AndRunsOnceTheNodeIsBack()
    {
        using var client = new SchedulerClient(_address, TenantKey);
        await using var running = await StreamedJob.StartAsync(client, Request(OneSlotModel, LongJobTokens));
        await running.FirstTokens.WaitAsync(Timeout);
        await using var held = await StreamedJob.StartAsync(client, Request(OneSlotModel, 8));
        await held.Admitted.WaitAsync(Timeout);

        // The node goes away with one job running and one held: the scheduler gets both back and queues them again.
        await _node.StopAsync();
        await _node.DisposeAsync();
        _node = await StartNodeAsync();

        var first = await running.Ended.WaitAsync(Timeout);
        var second = await held.Ended.WaitAsync(Timeout);
        Assert.Equal((JobEvent.EventOneofCase.Completed, LongJobTokens), (first.Kind, first.Tokens));
        Assert.Equal((JobEvent.EventOneofCase.Completed, 8), (second.Kind, second.Tokens));
        await ReplicaRunningAsync(OneSlotReplica, 0);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(8)]
    [InlineData(40)]
    public async Task CharactersSplitAcrossTokens_StreamWhole_AsTheJobsRecordAndTheOpenAiAnswerHaveThem(int maxTokens)
    {
        // 3 tokens end in the middle of 中, 8 in the middle of 😀; 40 reach the end of sequence after a lead byte (14).
        using var client = new SchedulerClient(_address, TenantKey);
        var tokens = Math.Min(maxTokens, 14);
        var expected = TinyModelFixture.ScriptText(TinyModelFixture.Script, tokens);

        var streamed = await client.RunAsync(Request(ScriptModel, maxTokens), deadline: DateTime.UtcNow + Timeout);
        var (status, answer) = await PostOpenAiAsync("/v1/completions", new { model = ScriptModel, prompt = Prompt, max_tokens = maxTokens });

        Assert.Equal((JobStatus.Completed, tokens < maxTokens ? "stop" : "length", tokens, expected), (streamed.Status, streamed.FinishReason, streamed.TokenCount, streamed.Text));
        Assert.Equal(expected, (await client.GetAsync(streamed.JobId)).Output);
        Assert.Equal(System.Net.HttpStatusCode.OK, status);
        Assert.Equal(expected, answer.GetProperty("choices")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task JobOnANodeThatStops_ResumesElsewhereInItsText_ToTheTextOfAnUninterruptedRun()
    {
        // The node goes away wherever the job is: most of the script's tokens end in the middle of a character.
        using var client = new SchedulerClient(_address, TenantKey);
        using var cts = new CancellationTokenSource(Timeout);
        var text = new System.Text.StringBuilder();
        var tokens = 0;
        var stopped = false;
        Job? ended = null;
        await foreach (var e in client.StreamAsync(Request(CycleModel, LongJobTokens), cancellationToken: cts.Token))
        {
            if (e.EventCase == JobEvent.EventOneofCase.Tokens)
            {
                Assert.Equal(tokens, e.Tokens.FirstTokenIndex);
                tokens += e.Tokens.TokenCount;
                text.Append(e.Tokens.Text);
                if (!stopped && tokens >= 100)
                {
                    stopped = true;
                    await _node.StopAsync();
                    await _node.DisposeAsync();
                    _node = await StartNodeAsync();
                }
            }
            else if (e.EventCase is JobEvent.EventOneofCase.Completed or JobEvent.EventOneofCase.Failed or JobEvent.EventOneofCase.Cancelled or JobEvent.EventOneofCase.Expired)
            {
                ended = await client.GetAsync(e.JobId);
                break;
            }
        }

        Assert.Equal((JobStatus.Completed, LongJobTokens), (ended!.Status, tokens));
        Assert.True(ended.Requeues > 0, "the job was not handed back: it ended before the node stopped");
        Assert.Equal(TinyModelFixture.ScriptText(TinyModelFixture.Cycle, LongJobTokens), text.ToString());
        Assert.Equal(text.ToString(), ended.Output);
    }

    [Fact]
    public async Task PromptOnlyTheModelsTokenizerFindsTooLong_IsTheClientsError_A400ContextLengthExceeded_NotA500()
    {
        // The catalog counts this text with cl100k_base (about 360 tokens: it fits the 512-token context with 16 to
        // generate); the tiny model's own tokenizer splits it finer, and its engine refuses it as too long.
        var prompt = string.Concat(Enumerable.Repeat("zebra quantum xylophone ", 60));

        var (status, answer) = await PostOpenAiAsync("/v1/completions", new { model = Model, prompt, max_tokens = 16 });

        var error = answer.GetProperty("error");
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, status);
        Assert.Equal(("invalid_request_error", "context_length_exceeded", "prompt"),
            (error.GetProperty("type").GetString(), error.GetProperty("code").GetString(), error.GetProperty("param").GetString()));
        Assert.StartsWith("the prompt does not fit the model's context: prompt is ", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChatWithoutMaxTokens_ThatTheModelCountsLongerThanTheScheduler_RunsToTheEndOfTheContext_NotA400()
    {
        // The scheduler fits a chat's budget to its own count of the rendering; the tiny model's tokenizer counts it more
        // than twice as long, and the engine refused the job as too long: a 400 for a max_tokens the client never sent.
        var content = string.Join(' ', Enumerable.Repeat("the", 100));

        var (status, answer) = await PostOpenAiAsync("/v1/chat/completions", new { model = Model, messages = new[] { new { role = "user", content } } });

        Assert.True(status == System.Net.HttpStatusCode.OK, answer.ToString());
        var usage = answer.GetProperty("usage");
        Assert.Equal("length", answer.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(512, usage.GetProperty("prompt_tokens").GetInt32() + usage.GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task PromptTheEngineCanNeverRun_FailsTheJobWithTheEnginesMessage_InsteadOfQueueingItForever()
    {
        // The scheduler has no vocabulary to check ids against; the engine finds this one outside the model's.
        using var client = new SchedulerClient(_address, TenantKey);
        var request = new SubmitJobRequest { Model = Model, MaxTokens = 8, PromptTokenIds = { 1, 1_000_000 } };

        var job = await client.RunAsync(request, deadline: DateTime.UtcNow + Timeout);

        Assert.Equal(JobStatus.Failed, job.Status);
        Assert.StartsWith("the prompt is not in the model's vocabulary: prompt token id 1000000 is outside the model's vocabulary", job.Error, StringComparison.Ordinal);
        Assert.Equal(0, job.TokenCount);

        // The replica is free for the next job.
        var next = await client.RunAsync(Request(Model, 8), deadline: DateTime.UtcNow + Timeout);
        Assert.Equal((JobStatus.Completed, 8), (next.Status, next.TokenCount));
    }

    [Fact]
    public async Task ChatJob_RunsTheGgufsTemplateRendering_AndReportsItsTokenCount()
    {
        using var client = new SchedulerClient(_address, TenantKey);
        var request = new SubmitJobRequest
        {
            Model = ChatModel,
            MaxTokens = 8,
            Messages = { new ChatMessage { Role = "system", Content = "be brief" }, new ChatMessage { Role = "user", Content = "hello world" } },
        };

        var job = await client.RunAsync(request, deadline: DateTime.UtcNow + Timeout);

        // The engine ran the GGUF's ChatML rendering; the scheduler counted its own Llama 3 rendering, which is longer.
        var chatMl = tiny.ChatModel.Tokenize("<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhello world<|im_end|>\n<|im_start|>assistant\n").Length;
        Assert.Equal((JobStatus.Completed, "length", 8), (job.Status, job.FinishReason, job.TokenCount));
        Assert.Equal(chatMl, job.Usage!.PromptTokens);
        Assert.NotEqual(
            tiny.ChatModel.Tokenize("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nbe brief<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nhello world<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n").Length,
            chatMl);
    }

    /// <summary>Posts <paramref name="body"/> as JSON to the silo's OpenAI door at <paramref name="path"/> as the tenant;
    /// returns the status and the answer's JSON.</summary>
    private async Task<(System.Net.HttpStatusCode Status, System.Text.Json.JsonElement Answer)> PostOpenAiAsync(string path, object body)
    {
        using var http = new HttpClient { Timeout = Timeout };
        using var content = new StringContent(System.Text.Json.JsonSerializer.Serialize(body), System.Text.Encoding.UTF8, "application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, _silo.Services.GetRequiredService<ListeningAddresses>().OpenAi + path) { Content = content };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", TenantKey);
        using var response = await http.SendAsync(request);
        return (response.StatusCode, System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    private static SubmitJobRequest Request(string model, int maxTokens, ulong? seed = null, string prompt = Prompt)
    {
        var request = new SubmitJobRequest { Model = model, Prompt = prompt, MaxTokens = maxTokens, Temperature = 0.8f };
        if (seed is { } s)
        {
            request.Seed = s;
        }

        return request;
    }

    private LlamaEngine FourSlotEngine()
    {
        Assert.True(_node.Services.GetRequiredService<ReplicaEngines>().TryGet($"llama-e2e-l4-0/{Model}", out var engine));
        return Assert.IsType<LlamaEngine>(engine);
    }

    private LlamaEngine OneSlotEngine()
    {
        Assert.True(_node.Services.GetRequiredService<ReplicaEngines>().TryGet(OneSlotReplica, out var engine));
        return Assert.IsType<LlamaEngine>(engine);
    }

    /// <summary>Waits until the placement counts <paramref name="running"/> jobs on the replica (its last finish is a
    /// one-way message that may land just after the job's end reached the client).</summary>
    private async Task ReplicaRunningAsync(string replicaId, int running)
    {
        using var admin = new SchedulerAdminClient(_address, AdminKey);
        await Polling.Until(
            async () => (await admin.ListReplicasAsync(OneSlotModel)).Single(r => r.ReplicaId == replicaId).RunningSequences == running,
            $"{running} jobs counted on {replicaId}",
            Timeout,
            TimeSpan.FromMilliseconds(50));
    }

    /// <summary>The four-slot replica as the admin API lists it once the node has reported <paramref name="decodes"/>
    /// decode calls (the report of the step that finished the last job may arrive just after the job's completion).</summary>
    private async Task<Replica> ReplicaWithDecodeCallsAsync(long decodes)
    {
        using var admin = new SchedulerAdminClient(_address, AdminKey);
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            var replica = (await admin.ListReplicasAsync(Model)).Single(r => r.ReplicaId == $"llama-e2e-l4-0/{Model}");
            if (replica.EngineDecodeCalls == decodes || DateTime.UtcNow > deadline)
            {
                Assert.Equal(decodes, replica.EngineDecodeCalls);
                return replica;
            }

            await Task.Delay(50);
        }
    }

    private static async Task WaitForReadyReplicas(string address)
    {
        using var admin = new SchedulerAdminClient(address, AdminKey);
        var deadline = DateTime.UtcNow + Timeout;
        foreach (var model in new[] { Model, OneSlotModel, ChatModel, ScriptModel, CycleModel })
        {
            while (!(await admin.ListReplicasAsync(model)).Any(r => r.State == "ready"))
            {
                Assert.True(DateTime.UtcNow < deadline, $"No replica of {model} became ready.");
                await Task.Delay(100);
            }
        }
    }

    /// <summary>A job streamed in the background: when it was admitted, its first tokens, and how it ended with how many
    /// tokens (each index once, in order).</summary>
    private sealed class StreamedJob : IAsyncDisposable
    {
        private readonly TaskCompletionSource _admitted = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _firstTokens = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly CancellationTokenSource _stop = new(Timeout * 2);
        private readonly TaskCompletionSource<string> _id = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private Task<(JobEvent.EventOneofCase Kind, int Tokens, DateTime At)> _ended = null!;

        public string JobId { get; private set; } = "";

        public DateTime AdmittedAt { get; private set; }

        public Task Admitted => _admitted.Task;

        public Task FirstTokens => _firstTokens.Task;

        public Task<(JobEvent.EventOneofCase Kind, int Tokens, DateTime At)> Ended => _ended;

        public static async Task<StreamedJob> StartAsync(SchedulerClient client, SubmitJobRequest request)
        {
            var job = new StreamedJob();
            job._ended = job.RunAsync(client, request);
            job.JobId = await job._id.Task.WaitAsync(Timeout);
            return job;
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            try
            {
                await _ended;
            }
            catch (OperationCanceledException)
            {
                // Stopped by a test that failed before the job ended.
            }
            catch (Grpc.Core.RpcException)
            {
                // Likewise.
            }

            _stop.Dispose();
        }

        private async Task<(JobEvent.EventOneofCase Kind, int Tokens, DateTime At)> RunAsync(SchedulerClient client, SubmitJobRequest request)
        {
            var tokens = 0;
            await foreach (var e in client.StreamAsync(request, cancellationToken: _stop.Token))
            {
                _id.TrySetResult(e.JobId);
                switch (e.EventCase)
                {
                    case JobEvent.EventOneofCase.Admitted:
                        AdmittedAt = DateTime.UtcNow;
                        _admitted.TrySetResult();
                        break;
                    case JobEvent.EventOneofCase.Tokens:
                        Assert.Equal(tokens, e.Tokens.FirstTokenIndex);
                        tokens += e.Tokens.TokenCount;
                        _firstTokens.TrySetResult();
                        break;
                    case JobEvent.EventOneofCase.Completed or JobEvent.EventOneofCase.Cancelled or JobEvent.EventOneofCase.Failed or JobEvent.EventOneofCase.Expired:
                        return (e.EventCase, tokens, DateTime.UtcNow);
                }
            }

            throw new InvalidOperationException("The job's stream ended without an end event.");
        }
    }
}
