using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Scheduler.Protos.V1;
using Scheduler.Silo.Api;

namespace Scheduler.Tests.Silo.Api;

/// <summary>The one submission path behind every front door, in a real silo (no worker nodes: an accepted job waits
/// queued).</summary>
public sealed class JobSubmissionsTests(SecuredSilo silo) : IClassFixture<SecuredSilo>
{
    [Fact]
    public async Task Submit_CallEndedBeforeTheTenantAccepts_IsRefusedCancelled_AndNoJobIsMade()
    {
        var submissions = silo.Services.GetRequiredService<JobSubmissions>();
        using var client = silo.Client(SecuredSilo.ConfiguredKey);
        using var ended = new CancellationTokenSource();
        await ended.CancelAsync();

        var e = await Assert.ThrowsAsync<RpcException>(() =>
            submissions.Submit(SubmissionDoors.StreamJob, SecuredSilo.Tenant, Request("given up"), subscribe: true, ended.Token));

        Assert.Equal(StatusCode.Cancelled, e.StatusCode);
        Assert.Empty((await client.ListAsync(new ListJobsRequest())).Jobs);

        // The same submission on a call still open is accepted: the check is the call's, not the request's.
        using var submitted = await submissions.Submit(SubmissionDoors.StreamJob, SecuredSilo.Tenant, Request("still here"), subscribe: true, CancellationToken.None);
        var job = Assert.Single((await client.ListAsync(new ListJobsRequest())).Jobs);
        Assert.Equal(submitted.Job.JobId, job.JobId);
        await client.CancelAsync(job.JobId);
    }

    private static SubmitJobRequest Request(string prompt) => new() { Model = "llama-3.1-8b", Prompt = prompt, MaxTokens = 4 };
}
