using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace Scheduler.Protos.Tls;

/// <summary>
/// Keeps a <see cref="TrustedCa"/> equal to its file, read again every interval (a server's long-lived links) or at
/// each handshake (a client's: <see cref="OnDemand"/>; only a changed file is parsed again), so a CA added to the bundle
/// (or dropped from it) counts for the next handshake without a restart: a CA rotation needs no roll. A file that does
/// not read as PEM certificates (half written, emptied) never replaces the CAs trusted: they stay, a warning names the
/// setting and the file, and the next read tries again. Connections already open are not checked again.
/// </summary>
internal sealed partial class TrustedCaReloader
{
    private readonly TrustedCa _trusted;
    private readonly string _path;
    private readonly string _setting;
    private readonly string _retry;
    private readonly ILogger _logger;
    private readonly FileContentPoll _poll;

    // retry: when the file is read next, for the warning.
    private TrustedCaReloader(TrustedCa trusted, string path, string setting, string retry, ILogger logger)
    {
        _trusted = trusted;
        _path = path;
        _setting = setting;
        _retry = retry;
        _logger = logger;
        _poll = new FileContentPoll([path], Accept, WarnNotReplaced);
    }

    /// <summary>Reads the file every <paramref name="interval"/> until the result is disposed.</summary>
    public static IDisposable Every(TrustedCa trusted, string path, string setting, TimeSpan interval, TimeProvider time, ILogger logger) =>
        new TrustedCaReloader(trusted, path, setting, $"in {interval}", logger)._poll.Every(interval, time);

    /// <summary>What reads the file when called (at each handshake): its contents compared with the last accepted,
    /// parsed only when they changed.</summary>
    public static Action OnDemand(TrustedCa trusted, string path, string setting, ILogger logger) =>
        new TrustedCaReloader(trusted, path, setting, "at the next handshake", logger)._poll.Check;

    private bool Accept(string[] contents)
    {
        X509Certificate2Collection next;
        try
        {
            next = PemFiles.ParseCertificates(contents[0], _path, _setting);
        }
        catch (ArgumentException ex)
        {
            WarnNotReplaced(ex);
            return false;
        }

        var thumbprints = Thumbprints(next);
        if (thumbprints == Thumbprints(_trusted.Roots))
        {
            return true;
        }

        _trusted.Trust(next);
        LogReplaced(_logger, _setting, _path, thumbprints);
        return true;
    }

    private void WarnNotReplaced(Exception reason) =>
        LogNotReplaced(_logger, _setting, _path, Thumbprints(_trusted.Roots), _retry, reason.Message);

    private static string Thumbprints(X509Certificate2Collection certificates) => string.Join(", ", certificates.Select(c => c.Thumbprint));

    [LoggerMessage(EventId = 3, Level = LogLevel.Information,
        Message = "Trusted CAs changed: {Setting} ('{Path}') read again, new handshakes now trust {Thumbprints}")]
    private static partial void LogReplaced(ILogger logger, string setting, string path, string thumbprints);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning,
        Message = "{Setting} ('{Path}') does not read as PEM CA certificates; still trusting {Thumbprints}, trying again {Retry}: {Reason}")]
    private static partial void LogNotReplaced(ILogger logger, string setting, string path, string thumbprints, string retry, string reason);
}
