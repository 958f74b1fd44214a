using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Scheduler.Protos.Tls;
using Scheduler.Silo.Hosting;

namespace Scheduler.Silo.OpenAi;

/// <summary>
/// The OpenAI-compatible API's own HTTP/1.1 endpoint (<see cref="Hosting.ListeningOptions.OpenAiPort"/>): the one place
/// it is set up. Only /v1 is served on it, and /v1 on no other port. It serves TLS with the gRPC front door's
/// certificate when one is configured: both carry tenant keys and prompts.
/// </summary>
internal static class OpenAiListener
{
    public static void Listen(KestrelServerOptions kestrel, IPAddress ip, int port, ServerCertificateReloader? certificate) =>
        kestrel.Listen(ip, port, listen => listen.UseFrontDoorTls(certificate).Protocols = HttpProtocols.Http1);
}
