namespace Scheduler.Protos;

/// <summary>The bounds of one <c>StreamJobs</c> call that both its ends keep to (inference.proto says them to clients in
/// other languages): the silo enforces them, the .NET client holds itself within them.</summary>
public static class StreamJobsLimits
{
    /// <summary>A call's submissions open at once, at most: jobs not yet ended, and refusals not yet written. Past it the
    /// silo reads no submission until one ends, so a client that submits faster than its jobs finish (or its refusals are
    /// read) is held back by HTTP/2 flow control, not by the silo's memory; a client that may give up on a submission
    /// holds those past it back itself (written anyway, they wait unread in the connection, out of its reach).</summary>
    public const int MaxOpenSubmissions = 1024;
}
