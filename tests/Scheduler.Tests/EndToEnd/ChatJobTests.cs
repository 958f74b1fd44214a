using Microsoft.ML.Tokenizers;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.EndToEnd;

/// <summary>Chat jobs over gRPC through the silo to a simulated worker process.</summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed class ChatJobTests(SchedulerCluster cluster)
{
    [Fact]
    public async Task ChatJob_Completes_WithThePromptRenderedByTheModelsTemplate()
    {
        using var client = cluster.Tenant(0);
        var request = new SubmitJobRequest
        {
            Model = SchedulerCluster.Model,
            MaxTokens = 6,
            Messages =
            {
                new ChatMessage { Role = "system", Content = "You are brief." },
                new ChatMessage { Role = "user", Content = "Name a colour." },
                new ChatMessage { Role = "assistant", Content = "" },
                new ChatMessage { Role = "user", Content = "Another one, please." },
            },
        };

        var job = await client.RunAsync(request, deadline: DateTime.UtcNow.AddMinutes(1));

        // The simulated engine takes the scheduler's count: the catalog's Llama 3 rendering of the chat, with the
        // assistant's turn opened, counted by the model's tokenizer.
        const string rendered =
            "<|begin_of_text|>" +
            "<|start_header_id|>system<|end_header_id|>\n\nYou are brief.<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nName a colour.<|eot_id|>" +
            "<|start_header_id|>assistant<|end_header_id|>\n\n<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nAnother one, please.<|eot_id|>" +
            "<|start_header_id|>assistant<|end_header_id|>\n\n";
        var tokenizer = TiktokenTokenizer.CreateForEncoding("cl100k_base");
        Assert.True(job.Succeeded, $"{job.JobId}: {job.Status} {job.Error}");
        Assert.Equal((6, "length"), (job.TokenCount, job.FinishReason));
        Assert.Equal(tokenizer.CountTokens(rendered), job.Usage!.PromptTokens);
        Assert.Equal(job.Usage.PromptTokens, (await client.GetAsync(job.JobId)).PromptTokens);
    }

    [Fact]
    public async Task ChatJob_EmptySystemPromptAndEmptyTurns_AreAccepted_AsOpenAiTakesThem()
    {
        // An empty system prompt (or user turn) was INVALID_ARGUMENT naming messages[0].content; OpenAI's API and vLLM
        // take it, and clients send it.
        using var client = cluster.Tenant(0);
        var request = new SubmitJobRequest
        {
            Model = SchedulerCluster.Model,
            MaxTokens = 3,
            Messages =
            {
                new ChatMessage { Role = "system", Content = "" },
                new ChatMessage { Role = "user", Content = "" },
                new ChatMessage { Role = "assistant", Content = "" },
                new ChatMessage { Role = "user", Content = "Name a colour." },
            },
        };

        var job = await client.RunAsync(request, deadline: DateTime.UtcNow.AddMinutes(1));

        Assert.True(job.Succeeded, $"{job.JobId}: {job.Status} {job.Error}");
        Assert.Equal(3, job.TokenCount);
    }

    [Fact]
    public async Task ListModels_ShowsEachModelsChatTemplate()
    {
        using var admin = cluster.Admin();

        var models = (await admin.ListModelsAsync()).ToDictionary(m => m.Name, m => m.ChatTemplate);

        Assert.Equal("llama3", models[SchedulerCluster.Model]);
        Assert.Equal("chatml", models[SchedulerCluster.FairModel]);
    }
}
