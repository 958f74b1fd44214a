namespace Scheduler.Silo.Api;

/// <summary>The front doors a job can be submitted by, as <c>scheduler.submissions.refused</c> names them.</summary>
internal static class SubmissionDoors
{
    public const string SubmitJob = "submit_job";
    public const string StreamJob = "stream_job";
    public const string StreamJobs = "stream_jobs";
    public const string OpenAi = "openai";
}
