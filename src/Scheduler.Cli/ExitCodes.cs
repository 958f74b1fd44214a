namespace Scheduler.Cli;

/// <summary>The process exit codes of schedctl.</summary>
internal static class ExitCodes
{
    /// <summary>The command did what it was asked.</summary>
    public const int Ok = 0;

    /// <summary>The job failed, expired or was cancelled, or the command could not start (a usage error: a flag out of
    /// range, a value that does not parse, a file not found).</summary>
    public const int Failed = 1;

    /// <summary>The scheduler answered with a gRPC error — a refusal, or an unknown job, tenant, accelerator or node
    /// (NOT_FOUND, also where schedctl finds the name missing itself, as <c>cordon-node</c> does) — or could not be
    /// reached (for a job's stream, not within the tries <see cref="ResumingJobStream"/> makes).</summary>
    public const int RpcError = 2;

    /// <summary>Interrupted by Ctrl+C or SIGTERM.</summary>
    public const int Interrupted = 130;
}
