using System.Net.Sockets;
using System.Text;
using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Faults;

/// <summary>A real redis-server on a free loopback port, with no persistence to disk; stopped by its PID.</summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly ChildProcess _process;

    private RedisServer(ChildProcess process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    /// <summary>The StackExchange.Redis form the silos are configured with.</summary>
    public string Endpoint => $"127.0.0.1:{Port}";

    public static async Task<RedisServer> StartAsync()
    {
        var executable = FindOnPath("redis-server")
            ?? throw new InvalidOperationException("redis-server is not installed: `apt-get install -y redis-server` (the fault tests need a real Redis).");
        var port = FreePort.Next();
        var process = ChildProcess.Start(
            executable, ["--bind", "127.0.0.1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--save", "", "--appendonly", "no"]);
        var server = new RedisServer(process, port);
        try
        {
            await server.WaitForPongAsync(TimeSpan.FromSeconds(15));
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    private async Task WaitForPongAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", Port);
                var stream = client.GetStream();
                await stream.WriteAsync("PING\r\n"u8.ToArray());
                var buffer = new byte[16];
                var read = await stream.ReadAsync(buffer);
                if (Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal))
                {
                    return;
                }
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !_process.HasExited)
            {
                // Not listening yet.
            }

            if (DateTime.UtcNow > deadline || _process.HasExited)
            {
                throw new TimeoutException($"redis-server on port {Port} did not answer PING");
            }

            await Task.Delay(50);
        }
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);

    /// <summary>Freezes the server (SIGSTOP): its connections stay open and nothing answers, as when a Redis primary
    /// stalls or the network to it is cut. <see cref="Resume"/> lets it go on with its data intact.</summary>
    public void Pause() => ProcessSignals.Send("STOP", _process.Pid);

    /// <summary>Lets a paused server go on (SIGCONT).</summary>
    public void Resume() => ProcessSignals.Send("CONT", _process.Pid);

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
