using Microsoft.AspNetCore.Server.Kestrel.Core;
using Scheduler.Protos.Tls;

namespace Scheduler.Silo.Hosting;

internal static class ListenOptionsTlsExtensions
{
    /// <summary>
    /// Serves TLS with <paramref name="certificate"/> on a client-facing endpoint, or leaves it cleartext when null.
    /// Every front door (gRPC, the OpenAI-compatible port) goes through here, so one setting secures them all.
    /// </summary>
    public static ListenOptions UseFrontDoorTls(this ListenOptions listen, PemServerCertificate? certificate)
    {
        if (certificate is not null)
        {
            listen.UseHttps(https =>
            {
                https.ServerCertificate = certificate.Leaf;
                https.ServerCertificateChain = certificate.Intermediates;
            });
        }

        return listen;
    }
}
