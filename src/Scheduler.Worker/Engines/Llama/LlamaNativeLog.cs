using LLama.Native;
using Microsoft.Extensions.Logging.Abstractions;

namespace Scheduler.Worker.Engines.Llama;

/// <summary>
/// Sends llama.cpp's own log (process-wide, like the library) to the node's logger instead of stderr. It is installed
/// before the first model loads, when no host logger exists yet; what llama.cpp says until one is attached is dropped.
/// </summary>
internal sealed class LlamaNativeLog : ILogger
{
    private static readonly LlamaNativeLog Instance = new();
    private static int _installed;
    private ILogger _target = NullLogger.Instance;

    /// <summary>Routes llama.cpp's log here; idempotent.</summary>
    public static void Install()
    {
        if (Interlocked.Exchange(ref _installed, 1) == 0)
        {
            NativeLogConfig.llama_log_set(Instance);
        }
    }

    /// <summary>From now on, llama.cpp's messages go to <paramref name="logger"/>, until the returned attachment is
    /// disposed (with the host that owns the logger) or another logger is attached.</summary>
    public static IDisposable Attach(ILogger logger)
    {
        Install();
        Volatile.Write(ref Instance._target, logger);
        return new Attachment(logger);
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => Volatile.Read(ref _target).IsEnabled(Demote(logLevel));

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var target = Volatile.Read(ref _target);
        var level = Demote(logLevel);
        if (target.IsEnabled(level))
        {
            target.Log(level, eventId, state, exception, formatter);
        }
    }

    // llama.cpp reports every tensor and setting at information level: detail for a node's operator.
    private static LogLevel Demote(LogLevel level) => level == LogLevel.Information ? LogLevel.Debug : level;

    /// <summary>Detaches its logger if it is still the one attached: a disposed host's logger must not be called.</summary>
    private sealed class Attachment(ILogger logger) : IDisposable
    {
        public void Dispose() => Interlocked.CompareExchange(ref Instance._target, NullLogger.Instance, logger);
    }
}
