using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Scheduler.Silo.OpenAi;

/// <summary>
/// The OpenAI-compatible API's own HTTP/1.1 endpoint (<see cref="Hosting.ListeningOptions.OpenAiPort"/>): the one place
/// it is set up, so transport settings (TLS) for it go here. Only /v1 is served on it, and /v1 on no other port.
/// </summary>
internal static class OpenAiListener
{
    public static void Listen(KestrelServerOptions kestrel, IPAddress ip, int port) =>
        kestrel.Listen(ip, port, listen => listen.Protocols = HttpProtocols.Http1);
}
