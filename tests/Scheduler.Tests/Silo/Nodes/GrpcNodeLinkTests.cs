using Scheduler.Abstractions.Jobs;
using Scheduler.Policies;
using Scheduler.Protos.V1;
using Scheduler.Silo.Nodes;

namespace Scheduler.Tests.Silo.Nodes;

public sealed class GrpcNodeLinkTests
{
    [Fact]
    public void ToSpec_ResumedChatJob_CarriesItsMessagesRenderedPromptAndResumePoint()
    {
        var request = new JobRequest(
            "llama-3.1-8b", "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", null, 9, 16, JobPriority.Standard, 2000, null, null, null,
            Messages: [new JobMessage("system", "be brief"), new JobMessage("user", "hi")]);
        var ticket = new JobTicket("job-1", "tenant", request, DateTimeOffset.UnixEpoch, [], 1.0) with
        {
            ResumeFromToken = 5,
            Delivered = new DeliveredOutput("abcde", [1, 2, 3, 4, 5]),
        };

        const string runSpan = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        var spec = GrpcNodeLink.ToSpec(ticket, runSpan);

        Assert.Equal(
            [new ChatTurn { Role = "system", Content = "be brief" }, new ChatTurn { Role = "user", Content = "hi" }],
            spec.Messages);
        Assert.Equal(request.Prompt, spec.Prompt);
        Assert.Equal((9, 16, 5), (spec.PromptTokens, spec.MaxTokens, spec.ResumeFromToken));
        Assert.Equal(runSpan, spec.Traceparent);
        Assert.Equal("abcde", spec.ResumeText);
    }

    [Fact]
    public void ToSpec_DeliveredTextNotCoveringTheResumePoint_SendsNoResumeText()
    {
        // The record holds the text of 3 tokens, the job resumes at 5: an engine continuing after it would repeat two.
        var request = new JobRequest("m", "hello", null, 1, 16, JobPriority.Standard, 2000, null, null, null);
        var ticket = new JobTicket("job-3", "tenant", request, DateTimeOffset.UnixEpoch, [], 1.0) with
        {
            ResumeFromToken = 5,
            Delivered = new DeliveredOutput("abc", [1, 2, 3]),
        };

        Assert.Equal("", GrpcNodeLink.ToSpec(ticket, traceParent: null).ResumeText);
    }

    [Fact]
    public void ToSpec_TextJob_HasNoMessages() =>
        Assert.Empty(GrpcNodeLink.ToSpec(new JobTicket(
            "job-2", "tenant", new JobRequest("m", "hello", null, 1, 4, JobPriority.Standard, 2000, null, null, null), DateTimeOffset.UnixEpoch, [], 1.0), traceParent: null).Messages);
}
