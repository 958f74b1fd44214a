using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Scheduler.Protos.Tls;

namespace Scheduler.Silo.Hosting;

internal static class ListenOptionsTlsExtensions
{
    /// <summary>
    /// Serves TLS with <paramref name="certificate"/>'s current certificate on a client-facing endpoint, or leaves it
    /// cleartext when null. Every front door (gRPC, the OpenAI-compatible port) goes through here, so one setting
    /// secures them all, and a renewed certificate reaches them all.
    /// </summary>
    public static ListenOptions UseFrontDoorTls(this ListenOptions listen, ServerCertificateReloader? certificate)
    {
        if (certificate is not null)
        {
            // Asked per handshake: a fixed ServerCertificate would be the one read at start-up for the process's life.
            listen.UseHttps(new TlsHandshakeCallbackOptions { OnConnection = _ => ValueTask.FromResult(certificate.ServerOptions()) });
        }

        return listen;
    }
}
