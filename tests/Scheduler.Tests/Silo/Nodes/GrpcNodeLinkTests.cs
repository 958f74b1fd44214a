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

        var spec = GrpcNodeLink.ToSpec(ticket);

        Assert.Equal(
            [new ChatTurn { Role = "system", Content = "be brief" }, new ChatTurn { Role = "user", Content = "hi" }],
            spec.Messages);
        Assert.Equal(request.Prompt, spec.Prompt);
        Assert.Equal((9, 16, 5), (spec.PromptTokens, spec.MaxTokens, spec.ResumeFromToken));
    }

    [Fact]
    public void ToSpec_TextJob_HasNoMessages() =>
        Assert.Empty(GrpcNodeLink.ToSpec(new JobTicket(
            "job-2", "tenant", new JobRequest("m", "hello", null, 1, 4, JobPriority.Standard, 2000, null, null, null), DateTimeOffset.UnixEpoch, [], 1.0)).Messages);
}
