namespace Scheduler.Standalone;

/// <summary>Sends an embedded node's logs to the silo's own logging (same providers and filters).</summary>
internal sealed class ForwardingLoggerProvider(ILoggerFactory target) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => target.CreateLogger(categoryName);

    public void Dispose()
    {
        // The target factory belongs to the silo.
    }
}
