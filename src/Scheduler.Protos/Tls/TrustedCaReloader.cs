using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace Scheduler.Protos.Tls;

/// <summary>
/// Keeps a <see cref="TrustedCa"/> equal to its file, read again every interval, so a CA added to the bundle (or
/// dropped from it) counts for the next handshake without a restart: a CA rotation needs no roll. A file that does not
/// read as PEM certificates (half written, emptied) never replaces the CAs trusted: they stay, a warning names the
/// setting and the file, and the next interval tries again. Connections already open are not checked again.
/// </summary>
internal sealed partial class TrustedCaReloader : IDisposable
{
    private readonly TrustedCa _trusted;
    private readonly string _path;
    private readonly string _setting;
    private readonly TimeSpan _interval;
    private readonly ILogger _logger;
    private readonly FileContentPoll _poll;

    public TrustedCaReloader(TrustedCa trusted, string path, string setting, TimeSpan interval, TimeProvider time, ILogger logger)
    {
        _trusted = trusted;
        _path = path;
        _setting = setting;
        _interval = interval;
        _logger = logger;
        _poll = new FileContentPoll([path], interval, time, Accept, WarnNotReplaced);
    }

    public void Dispose() => _poll.Dispose();

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
        LogNotReplaced(_logger, _setting, _path, Thumbprints(_trusted.Roots), _interval, reason.Message);

    private static string Thumbprints(X509Certificate2Collection certificates) => string.Join(", ", certificates.Select(c => c.Thumbprint));

    [LoggerMessage(EventId = 3, Level = LogLevel.Information,
        Message = "Trusted CAs changed: {Setting} ('{Path}') read again, new handshakes now trust {Thumbprints}")]
    private static partial void LogReplaced(ILogger logger, string setting, string path, string thumbprints);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning,
        Message = "{Setting} ('{Path}') does not read as PEM CA certificates; still trusting {Thumbprints}, trying again in {Interval}: {Reason}")]
    private static partial void LogNotReplaced(ILogger logger, string setting, string path, string thumbprints, TimeSpan interval, string reason);
}
