using System.Net.Security;
using Microsoft.Extensions.Logging;

namespace Scheduler.Protos.Tls;

/// <summary>
/// The certificate a TLS server presents, read again from its files every <c>interval</c> so a renewed certificate is
/// served without a restart (cert-manager renews the Secret, the kubelet swaps the mounted files a minute later).
/// A pair that does not read as a certificate and its key (half written, a new certificate with the old key) never
/// replaces the one served: that one stays, a warning names the files, and the next interval tries again.
/// Connections already open keep the certificate they were made with.
/// </summary>
public sealed partial class ServerCertificateReloader : IDisposable
{
    private readonly ServerCertificateFiles _files;
    private readonly TimeSpan _interval;
    private readonly ILogger _logger;
    private readonly IDisposable _poll;
    private PemServerCertificate _current;

    /// <summary>Serves <paramref name="initial"/> (read from <paramref name="files"/> at start-up, where a bad pair
    /// stops the process) and reads the files again every <paramref name="interval"/> from now on.</summary>
    public ServerCertificateReloader(PemServerCertificate initial, ServerCertificateFiles files, TimeSpan interval, TimeProvider time, ILogger logger)
    {
        _current = initial;
        _files = files;
        _interval = interval;
        _logger = logger;
        _poll = new FileContentPoll([files.CertificatePath, files.KeyPath], Accept, WarnNotReplaced).Every(interval, time);
    }

    /// <summary>Why <paramref name="interval"/> cannot be a reload interval, naming <paramref name="setting"/>; null
    /// when it can. At most an hour: a renewed certificate must be served well before the old one expires.</summary>
    public static string? IntervalRefusal(TimeSpan interval, string setting) =>
        interval > TimeSpan.Zero && interval <= TimeSpan.FromHours(1)
            ? null
            : $"{setting} must be more than 00:00:00 and at most 01:00:00 (how often the certificate and CA files are read again), not {interval}.";

    /// <summary>The certificate new connections get.</summary>
    public PemServerCertificate Current => Volatile.Read(ref _current);

    /// <summary>Server options for one handshake, with the current certificate and its chain; a new instance each
    /// time, since the server fills in the rest (the application protocols) per connection.</summary>
    public SslServerAuthenticationOptions ServerOptions() => new() { ServerCertificateContext = Current.Context };

    public void Dispose() => _poll.Dispose();

    private bool Accept(string[] contents)
    {
        PemServerCertificate next;
        try
        {
            next = PemServerCertificate.Parse(_files, contents[0], contents[1]);
        }
        catch (ArgumentException ex)
        {
            WarnNotReplaced(ex);
            return false;
        }

        if (next.IsSameAs(Current))
        {
            return true;
        }

        // The certificate replaced is not disposed: a handshake that read it a moment ago may still be using it.
        Volatile.Write(ref _current, next);
        LogReplaced(_logger, next.Leaf.Subject, next.Leaf.Thumbprint, next.Leaf.NotAfter, _files.CertificatePath);
        return true;
    }

    private void WarnNotReplaced(Exception reason)
    {
        var kept = Current.Leaf;
        LogNotReplaced(_logger, _files.CertificatePath, _files.KeyPath, kept.Subject, kept.Thumbprint, kept.NotAfter, _interval, reason.Message);
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information,
        Message = "TLS certificate renewed: now serving {Subject} (thumbprint {Thumbprint}, expires {NotAfter:o}), read again from {CertificatePath}")]
    private static partial void LogReplaced(ILogger logger, string subject, string thumbprint, DateTime notAfter, string certificatePath);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning,
        Message = "TLS certificate files {CertificatePath} and {KeyPath} do not read as a certificate and its private key; still serving {Subject} (thumbprint {Thumbprint}, expires {NotAfter:o}), trying again in {Interval}: {Reason}")]
    private static partial void LogNotReplaced(ILogger logger, string certificatePath, string keyPath, string subject, string thumbprint, DateTime notAfter, TimeSpan interval, string reason);
}
