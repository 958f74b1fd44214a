using System.Text.Json;
using Google.Protobuf.Reflection;
using Scheduler.Protos.V1;
using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Cli;

/// <summary>
/// <c>-o json</c> is stable: every field of a message is a key, whatever its value — a zero, an empty string, and an
/// unset message or optional field (as null), which protobuf's formatter leaves out even when asked for defaults. A
/// script's <c>jq .usage.promptTokens</c> found no key on a queued job. Against the loopback cluster, parsed as a script
/// would.
/// </summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed class SchedctlJsonTests(SchedulerCluster cluster)
{
    [Fact]
    public async Task GetJobsExplainCancel_AQueuedJobAsJson_EveryFieldIsAKey_UnsetOnesNull()
    {
        using var client = cluster.Tenant(0);

        // No replica serves the parked model: the job stays queued, unplaced, with no usage and no deadline.
        var queued = await client.SubmitAsync(new SubmitJobRequest { Model = SchedulerCluster.ParkedModel, Prompt = "stay queued", MaxTokens = 2 });
        try
        {
            var (exit, stdout, stderr) = await Run("get", queued.JobId, "--key", SchedulerCluster.Tenants[0].Key, "-o", "json");
            Assert.True(exit == 0, stderr);
            using (var got = JsonDocument.Parse(stdout))
            {
                AssertEveryField(Job.Descriptor, got.RootElement);
                Assert.Equal(queued.JobId, got.RootElement.GetProperty("jobId").GetString());
                Assert.Equal("JOB_STATUS_QUEUED", got.RootElement.GetProperty("status").GetString());
                Assert.Equal(JsonValueKind.Null, got.RootElement.GetProperty("usage").ValueKind);
                Assert.Equal(JsonValueKind.Null, got.RootElement.GetProperty("placement").ValueKind);
                Assert.Equal(JsonValueKind.Null, got.RootElement.GetProperty("deadline").ValueKind);
                Assert.Equal(0, got.RootElement.GetProperty("handBacks").GetInt32());
                Assert.Equal("", got.RootElement.GetProperty("output").GetString());
            }

            (exit, stdout, stderr) = await Run("jobs", "--model", SchedulerCluster.ParkedModel, "--since", "10m", "-o", "json");
            Assert.True(exit == 0, stderr);
            using (var page = JsonDocument.Parse(stdout))
            {
                AssertEveryField(ListJobsResponse.Descriptor, page.RootElement);
                var listed = page.RootElement.GetProperty("jobs").EnumerateArray().Single(j => j.GetProperty("jobId").GetString() == queued.JobId);
                AssertEveryField(Job.Descriptor, listed);
            }

            (exit, stdout, stderr) = await Run("explain", queued.JobId, "-o", "json");
            Assert.True(exit == 0, stderr);
            using (var explained = JsonDocument.Parse(stdout))
            {
                AssertEveryField(JobExplanation.Descriptor, explained.RootElement);
                Assert.Equal(JsonValueKind.Number, explained.RootElement.GetProperty("queuePosition").ValueKind);
            }
        }
        finally
        {
            var (exit, stdout, stderr) = await Run("cancel", queued.JobId, "--key", SchedulerCluster.Tenants[0].Key, "-o", "json");
            Assert.True(exit == 0, stderr);
            using var cancelled = JsonDocument.Parse(stdout);
            AssertEveryField(Job.Descriptor, cancelled.RootElement);
            Assert.Equal("JOB_STATUS_CANCELLED", cancelled.RootElement.GetProperty("status").GetString());
        }
    }

    [Fact]
    public async Task ExplainAndGet_AFinishedJobAsJson_NestedMessagesHaveEveryField_TheQueuePositionIsNull()
    {
        using var client = cluster.Tenant(0);
        var job = await client.RunAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "every key", MaxTokens = 2 }, deadline: DateTime.UtcNow.AddSeconds(60));
        Assert.Equal(JobStatus.Completed, job.Status);

        var (exit, stdout, stderr) = await Run("explain", job.JobId, "-o", "json");
        Assert.True(exit == 0, stderr);
        using (var explained = JsonDocument.Parse(stdout))
        {
            // A finished job has no place in the queue: the key is there, null, rather than absent.
            AssertEveryField(JobExplanation.Descriptor, explained.RootElement);
            Assert.Equal(JsonValueKind.Null, explained.RootElement.GetProperty("queuePosition").ValueKind);
            var usage = explained.RootElement.GetProperty("job").GetProperty("usage");
            AssertEveryField(Usage.Descriptor, usage);
            var events = explained.RootElement.GetProperty("events").EnumerateArray().ToList();
            Assert.All(events, e => AssertEveryField(JobTraceEvent.Descriptor, e));

            // The queued event has no placement; its key is null, not missing.
            Assert.Equal(JsonValueKind.Null, events.First(e => e.GetProperty("kind").GetString() == "queued").GetProperty("placement").ValueKind);
        }

        (exit, stdout, stderr) = await Run("get", job.JobId, "--key", SchedulerCluster.Tenants[0].Key, "-o", "json");
        Assert.True(exit == 0, stderr);
        using var got = JsonDocument.Parse(stdout);
        AssertEveryField(Job.Descriptor, got.RootElement);
        AssertEveryField(Placement.Descriptor, got.RootElement.GetProperty("placement"));
        Assert.Equal(job.Usage!.CompletionTokens, got.RootElement.GetProperty("usage").GetProperty("completionTokens").GetInt32());

        // The table form is the default still, the fields one per line.
        var table = await Run("get", job.JobId, "--key", SchedulerCluster.Tenants[0].Key);
        Assert.True(table.ExitCode == 0, table.Stderr);
        Assert.StartsWith("job:", table.Stdout, StringComparison.Ordinal);
        Assert.Contains($"{job.JobId}\n", table.Stdout, StringComparison.Ordinal);
    }

    // The object's keys are exactly the message's fields, by their JSON names.
    private static void AssertEveryField(MessageDescriptor descriptor, JsonElement element)
    {
        Assert.Equal(JsonValueKind.Object, element.ValueKind);
        Assert.Equal(
            descriptor.Fields.InFieldNumberOrder().Select(f => f.JsonName).Order(StringComparer.Ordinal),
            element.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
    }

    private Task<(int ExitCode, string Stdout, string Stderr)> Run(params string[] arguments) =>
        Schedctl.Run(["--address", cluster.Address, "--admin-key", SchedulerCluster.AdminKey, .. arguments]);
}
