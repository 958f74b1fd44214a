namespace Scheduler.Worker.Engines;

/// <summary>What <see cref="RunningBatch{TSequence}.Screen"/> decided about an admission before its engine looks at it.</summary>
internal enum ScreenedAdmission
{
    /// <summary>Nothing to skip: the engine decides whether it runs it.</summary>
    Run,

    /// <summary>The sequence already runs here: a repeated admission, ignored.</summary>
    Duplicate,

    /// <summary>A re-dispatch whose every token was delivered before: finished as length with the next report.</summary>
    AlreadyDelivered,
}

/// <summary>How an engine logs an admission its batch's screening skipped.</summary>
internal static partial class ScreenedAdmissionLog
{
    public static void LogSkipped(this ILogger logger, string replicaId, string sequenceId, ScreenedAdmission skipped)
    {
        switch (skipped)
        {
            case ScreenedAdmission.Duplicate:
                LogDuplicate(logger, replicaId, sequenceId);
                break;
            case ScreenedAdmission.AlreadyDelivered:
                LogAlreadyDelivered(logger, replicaId, sequenceId);
                break;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replica {ReplicaId} ignored a second admission of running sequence {SequenceId}")]
    private static partial void LogDuplicate(ILogger logger, string replicaId, string sequenceId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Replica {ReplicaId} finished re-dispatched sequence {SequenceId} at once: every token was delivered before")]
    private static partial void LogAlreadyDelivered(ILogger logger, string replicaId, string sequenceId);
}
