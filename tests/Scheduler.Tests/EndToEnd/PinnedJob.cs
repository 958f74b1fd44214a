using Scheduler.Client;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.EndToEnd;

/// <summary>A long job made to run on one node of two: the other node's accelerator is cordoned while the job is placed.</summary>
internal static class PinnedJob
{
    /// <summary>Starts a job of <paramref name="maxTokens"/> tokens while <paramref name="elsewhere"/> is cordoned, and
    /// returns, with the cordon lifted, once its first tokens came.</summary>
    /// <returns>The job's result, once it ends.</returns>
    public static async Task<Task<JobResult>> StartAsync(
        SchedulerAdminClient admin, SchedulerClient client, string model, string elsewhere, int maxTokens, TimeSpan timeout)
    {
        await admin.CordonAcceleratorAsync(elsewhere);
        var firstTokens = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var running = client.RunAsync(
            new SubmitJobRequest { Model = model, Prompt = "a long answer, please", MaxTokens = maxTokens },
            _ => firstTokens.TrySetResult(),
            DateTime.UtcNow + timeout);
        await firstTokens.Task.WaitAsync(timeout);
        await admin.UncordonAcceleratorAsync(elsewhere);
        return running;
    }
}
