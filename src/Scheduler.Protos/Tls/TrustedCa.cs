using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace Scheduler.Protos.Tls;

/// <summary>
/// The certificate authorities a TLS client trusts instead of the system's: a private CA that signed the scheduler's
/// or a worker's certificate (e.g. the <c>ca.crt</c> of a Kubernetes Secret). The server's certificate must chain
/// to one of them and name the host dialled (DNS name or IP address), or <see cref="ServerName"/> when set.
/// A long-running process keeps the CAs current with <see cref="ReloadEvery"/>, a client with <see cref="ReloadOnHandshake"/>.
/// </summary>
public sealed class TrustedCa
{
    private readonly string _path;
    private readonly string _setting;
    private X509Certificate2Collection _roots;
    private Action? _beforeHandshake;
    private Func<X509Certificate2>? _exactly;

    private TrustedCa(X509Certificate2Collection roots, string path, string setting, string? serverName)
    {
        _roots = roots;
        _path = path;
        _setting = setting;
        ServerName = serverName;
    }

    /// <summary>
    /// The name every server's certificate must carry instead of the host dialled, or null to check the host. Worker
    /// nodes are dialled at their pod IPs, which a shared certificate cannot list; they can share one certificate
    /// for a fixed name instead.
    /// </summary>
    public string? ServerName { get; }

    /// <summary>Reads a PEM file of one or more CA certificates, or returns null when <paramref name="path"/> is empty.</summary>
    /// <param name="path">The PEM file.</param>
    /// <param name="setting">The setting that names it, for error messages.</param>
    /// <param name="serverName">See <see cref="ServerName"/>.</param>
    /// <exception cref="ArgumentException">The file is missing or holds no PEM certificate; the message names the setting.</exception>
    public static TrustedCa? LoadOrNull(string? path, string setting, string? serverName = null) =>
        string.IsNullOrWhiteSpace(path)
            ? null
            : new TrustedCa(PemFiles.ReadCertificates(path, setting), path, setting, string.IsNullOrWhiteSpace(serverName) ? null : serverName);

    /// <summary>Trusts exactly the certificate <paramref name="served"/> returns at each handshake, whatever signed it and
    /// whatever names it carries: for a client inside the server's own process, which dials it over loopback and holds the
    /// very certificate to compare (the standalone's embedded nodes registering with their silo, whose certificate a
    /// private CA the process was never given may have signed, for a name other than the loopback address).</summary>
    /// <param name="served">The certificate the server serves now (it may be renewed while the process runs).</param>
    public static TrustedCa Exactly(Func<X509Certificate2> served) => new([], "", "", serverName: null) { _exactly = served };

    /// <summary>The CA certificates handshakes validate against now.</summary>
    public X509Certificate2Collection Roots => Volatile.Read(ref _roots);

    /// <summary>Reads the CA file again every <paramref name="interval"/> until the result is disposed, so new
    /// handshakes trust the CAs the file holds now; see <see cref="TrustedCaReloader"/>. Null for a trust made by
    /// <see cref="Exactly"/>, which has no file.</summary>
    public IDisposable? ReloadEvery(TimeSpan interval, TimeProvider time, ILogger logger) =>
        _exactly is null ? TrustedCaReloader.Every(this, _path, _setting, interval, time, logger) : null;

    /// <summary>Has every handshake validate against what the CA file holds then: the file is read at each
    /// <see cref="Validate"/> and parsed again only when its contents changed. For a client, which opens a connection
    /// rarely and may live through a CA rotation: no timer to stop, and the first handshake after a CA is added to the
    /// file trusts it. A file that no longer parses keeps the CAs trusted, with a warning to <paramref name="logger"/>.</summary>
    /// <returns>This instance.</returns>
    public TrustedCa ReloadOnHandshake(ILogger logger)
    {
        _beforeHandshake = TrustedCaReloader.OnDemand(this, _path, _setting, logger);
        return this;
    }

    // The collection replaced is never changed: a handshake that read it a moment ago may still be building its chain.
    internal void Trust(X509Certificate2Collection roots) => Volatile.Write(ref _roots, roots);

    /// <summary>Validates a server certificate: chain to these roots only (the system store is not consulted), then the name.</summary>
    public bool Validate(X509Certificate2 certificate, SslPolicyErrors errors)
    {
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return false;
        }

        if (_exactly is { } served)
        {
            return certificate.RawData.AsSpan().SequenceEqual(served().RawData);
        }

        // SslStream already compared the certificate with the host dialled; with a fixed server name that comparison
        // does not apply and this one replaces it.
        if (ServerName is { } name ? !certificate.MatchesHostname(name) : errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            return false;
        }

        _beforeHandshake?.Invoke();
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(Roots);
        // A private CA publishes no revocation lists.
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }
}
