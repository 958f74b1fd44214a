namespace Scheduler.Protos.Tls;

/// <summary>Where a server's PEM certificate and key live, and the settings that name them (for messages).</summary>
/// <param name="CertificatePath">PEM file: the leaf certificate first, then any intermediates.</param>
/// <param name="KeyPath">PEM file: the leaf's private key (PKCS#8, RSA or EC).</param>
/// <param name="CertificateSetting">The setting that names <paramref name="CertificatePath"/>, e.g. "Scheduler:Tls:CertificatePath".</param>
/// <param name="KeySetting">The setting that names <paramref name="KeyPath"/>.</param>
public sealed record ServerCertificateFiles(string CertificatePath, string KeyPath, string CertificateSetting, string KeySetting);
