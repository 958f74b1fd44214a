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

    // The errors llama.cpp logs on this thread while an ErrorsHeard is open: llama.cpp logs on the calling thread, and a
    // model is loaded before the host's logger is attached, so why a load failed was dropped.
    [ThreadStatic]
    private static List<string>? _errors;
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

    /// <summary>Collects what llama.cpp logs at error level on this thread until disposed, whether or not a logger is
    /// attached: a node that cannot load its model says why in its refusal to start.</summary>
    public static ErrorsHeard HearErrors()
    {
        Install();
        return new ErrorsHeard();
    }

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (logLevel >= LogLevel.Error && _errors is { } errors)
        {
            errors.Add(formatter(state, exception).Trim());
        }

        var target = Volatile.Read(ref _target);
        var level = Demote(logLevel);
        if (target.IsEnabled(level))
        {
            target.Log(level, eventId, state, exception, formatter);
        }
    }

    // llama.cpp reports every tensor and setting at information level: detail for a node's operator.
    private static LogLevel Demote(LogLevel level) => level == LogLevel.Information ? LogLevel.Debug : level;

    /// <summary>The errors llama.cpp logged on this thread since it was made, until disposed.</summary>
    internal sealed class ErrorsHeard : IDisposable
    {
        private readonly List<string>? _outer = _errors;
        private readonly List<string> _heard = _errors = [];

        /// <summary>The errors in the order logged, joined by "; ".</summary>
        public override string ToString() => string.Join("; ", _heard);

        public void Dispose() => _errors = _outer;
    }

    /// <summary>Detaches its logger if it is still the one attached: a disposed host's logger must not be called.</summary>
    private sealed class Attachment(ILogger logger) : IDisposable
    {
        public void Dispose() => Interlocked.CompareExchange(ref Instance._target, NullLogger.Instance, logger);
    }
}
