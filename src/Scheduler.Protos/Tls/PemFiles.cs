using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Scheduler.Protos.Tls;

/// <summary>Reads PEM files named by settings, with errors that name the setting.</summary>
internal static class PemFiles
{
    public static void RequireFile(string path, string setting)
    {
        if (!File.Exists(path))
        {
            throw new ArgumentException($"{setting}: the file '{path}' does not exist.", setting);
        }
    }

    /// <summary>Every certificate in the file, in order; at least one.</summary>
    public static X509Certificate2Collection ReadCertificates(string path, string setting)
    {
        RequireFile(path, setting);
        return ParseCertificates(File.ReadAllText(path), path, setting);
    }

    /// <summary>Every certificate in <paramref name="pem"/>, the contents of <paramref name="path"/> as read; at least one.</summary>
    /// <exception cref="ArgumentException">Not PEM, or no certificate in it; the message names the setting and file.</exception>
    public static X509Certificate2Collection ParseCertificates(string pem, string path, string setting)
    {
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPem(pem);
        }
        catch (CryptographicException ex)
        {
            throw new ArgumentException($"{setting}: '{path}' is not a PEM certificate file: {ex.Message}", setting, ex);
        }

        return certificates.Count > 0
            ? certificates
            : throw new ArgumentException($"{setting}: '{path}' holds no PEM certificate (-----BEGIN CERTIFICATE-----).", setting);
    }
}
