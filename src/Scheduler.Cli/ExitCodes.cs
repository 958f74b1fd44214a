namespace Scheduler.Cli;

/// <summary>The process exit codes of schedctl.</summary>
internal static class ExitCodes
{
    /// <summary>The command did what it was asked.</summary>
    public const int Ok = 0;

    /// <summary>The job failed or was cancelled, its stream ended early, or the command could not start.</summary>
    public const int Failed = 1;

    /// <summary>The scheduler answered with a gRPC error (or could not be reached).</summary>
    public const int RpcError = 2;

    /// <summary>Interrupted by Ctrl+C or SIGTERM.</summary>
    public const int Interrupted = 130;
}
