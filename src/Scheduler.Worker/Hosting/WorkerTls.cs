using Scheduler.Protos.Tls;

namespace Scheduler.Worker.Hosting;

/// <summary>A node's TLS settings, read: the certificate it serves (null: cleartext) and the CA it trusts when it
/// registers (null: the system's).</summary>
internal sealed record WorkerTls(PemServerCertificate? Certificate, TrustedCa? SchedulerCa)
{
    /// <summary>Reads the files the settings name.</summary>
    /// <exception cref="ArgumentException">The reload interval is out of range, a file is missing, not PEM, or the key is not the certificate's; the message names the setting.</exception>
    public static WorkerTls From(WorkerTlsOptions options)
    {
        if (ServerCertificateReloader.IntervalRefusal(options.ReloadInterval, "Worker:Tls:ReloadInterval") is { } refusal)
        {
            throw new ArgumentException(refusal, nameof(options));
        }

        var files = options.Files;
        return new(
            PemServerCertificate.LoadOrNull(options.CertificatePath, options.KeyPath, files.CertificateSetting, files.KeySetting),
            TrustedCa.LoadOrNull(options.TrustedCaPath, "Worker:Tls:TrustedCaPath"));
    }
}
