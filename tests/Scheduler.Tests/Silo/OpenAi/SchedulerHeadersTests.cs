using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Scheduler.Protos.V1;
using Scheduler.Silo.Api;
using Scheduler.Silo.OpenAi;

namespace Scheduler.Tests.Silo.OpenAi;

public sealed class SchedulerHeadersTests
{
    [Fact]
    public void Read_AllHeaders_AreAppliedToTheSubmission()
    {
        var headers = new HeaderDictionary
        {
            ["X-Scheduler-Priority"] = "Sheddable",
            ["x-scheduler-deadline-ms"] = "60000",
            ["x-scheduler-ttft-objective-ms"] = "250",
            ["Idempotency-Key"] = "k-1",
            ["x-scheduler-keep-on-disconnect"] = "true",
            ["X-Session-Id"] = "chat-7",
        };

        var read = SchedulerHeaders.Read(headers);
        var submit = new SubmitJobRequest();
        read.ApplyTo(submit);

        Assert.True(read.KeepOnDisconnect);
        Assert.Equal((Priority.Sheddable, 60000, 250, "k-1", "chat-7"), (submit.Priority, submit.DeadlineMs, submit.TtftObjectiveMs, submit.IdempotencyKey, submit.SessionId));
    }

    [Fact]
    public void Read_NoHeaders_StandardPriorityNoDeadlineAndCancelOnDisconnect()
    {
        var read = SchedulerHeaders.Read(new HeaderDictionary());

        Assert.Equal(new SchedulerHeaders(Priority.Standard, 0, 0, "", false, ""), read);
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData("", true)]
    [InlineData("false", false)]
    [InlineData("true", true)]
    public void Read_WithAnIdempotencyKey_TheJobRunsOnAfterADisconnectUnlessTheRequestSaysNot(string? keep, bool keeps)
    {
        var headers = new HeaderDictionary { ["Idempotency-Key"] = "k" };
        if (keep is null)
        {
            headers.Remove("Idempotency-Key");
        }
        else if (keep.Length > 0)
        {
            headers["x-scheduler-keep-on-disconnect"] = keep;
        }

        Assert.Equal(keeps, SchedulerHeaders.Read(headers).KeepOnDisconnect);
    }

    [Fact]
    public void Read_AWholeNumberOverTheRange_SaysTheRange()
    {
        var ex = Assert.Throws<RpcException>(() => SchedulerHeaders.Read(new HeaderDictionary { ["x-scheduler-deadline-ms"] = "99999999999" }));

        Assert.Equal("x-scheduler-deadline-ms: must be at most 2147483647 milliseconds, got 99999999999", ex.Status.Detail);
    }

    [Theory]
    [InlineData("x-scheduler-priority", "urgent")]
    [InlineData("x-scheduler-deadline-ms", "soon")]
    [InlineData("x-scheduler-ttft-objective-ms", "1.5")]
    [InlineData("x-scheduler-keep-on-disconnect", "yes")]
    public void Read_BadValue_IsRefusedNamingTheHeader(string header, string value)
    {
        var ex = Assert.Throws<RpcException>(() => SchedulerHeaders.Read(new HeaderDictionary { [header] = value }));

        Assert.Equal(header, SchedulerErrors.FieldOf(ex));
    }
}
