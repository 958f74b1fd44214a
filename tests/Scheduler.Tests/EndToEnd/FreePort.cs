using System.Net;
using System.Net.Sockets;

namespace Scheduler.Tests.EndToEnd;

/// <summary>
/// Ports for servers a test starts (silo processes, workers, Orleans endpoints). Each is handed out once per test run,
/// from below Linux's ephemeral range (32768–60999 by default): a listener bound to port 0 and every outgoing
/// connection take theirs from that range, so one of them could otherwise take a port handed out here in the seconds
/// before its process binds it — a silo process then found another test's worker on its address ("Service is
/// unimplemented"). A random start keeps two test runs on one machine apart.
/// </summary>
internal static class FreePort
{
    private const int First = 20_000;
    private const int Count = 12_000;

    private static int _next = Random.Shared.Next(Count);

    public static int Next()
    {
        for (var tries = 0; tries < Count; tries++)
        {
            var port = First + (int)((uint)Interlocked.Increment(ref _next) % Count);
            try
            {
                // Free now: nothing else listens there (outside the ephemeral range, nothing else is handed it).
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // Taken by a server outside this run: the next one.
            }
        }

        throw new InvalidOperationException($"No free port in {First}–{First + Count - 1}.");
    }
}
