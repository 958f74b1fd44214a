using System.Net;
using System.Net.Sockets;

namespace Scheduler.Bench.Harness;

/// <summary>Free loopback TCP ports, for the Orleans silo and gateway endpoints (which cannot take port 0).</summary>
internal static class FreePorts
{
    /// <summary>Returns <paramref name="count"/> distinct ports. All listeners stay open until every port is
    /// chosen, so the OS cannot hand out the same port twice.</summary>
    public static int[] Take(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        try
        {
            listeners.ForEach(l => l.Start());
            return [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            listeners.ForEach(l => l.Stop());
        }
    }
}
