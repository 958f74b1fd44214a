using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Cli;

/// <summary>
/// <c>--address</c> takes several addresses: a call that finds one unavailable goes on to the next when repeating it is
/// safe, and fails naming every address tried when none answers. Against the loopback cluster's silo, with addresses
/// where nothing listens (connection refused: the request never left, so any call may move on) and one that accepts
/// connections and drops them (the call may have been sent: only a repeatable call moves on).
/// </summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed class AddressRotationTests(SchedulerCluster cluster)
{
    [Fact]
    public async Task EveryKindOfCommand_FirstAddressRefusesConnections_IsAnsweredByTheNext()
    {
        var addresses = $"{Closed()},{cluster.Address}";

        var (exit, stdout, stderr) = await Run(addresses, "summary", "-o", "json");
        Assert.True(exit == 0, stderr);
        using (var summary = JsonDocument.Parse(stdout))
        {
            Assert.True(summary.RootElement.GetProperty("nodes").GetInt32() >= 2);
        }

        (exit, _, stderr) = await Run(addresses, "tenant", "put", "cli-rotation", "--weight", "2");
        Assert.True(exit == 0, stderr);

        // A submission without an idempotency key is not repeatable in general, but a refused connection sent nothing.
        (exit, stdout, stderr) = await Run(addresses, "submit", "--key", SchedulerCluster.Tenants[0].Key, "--model", SchedulerCluster.Model, "--prompt", "rotate", "--max-tokens", "2", "--no-stream");
        Assert.True(exit == 0, stderr);
        var jobId = stdout.Trim();

        (exit, stdout, stderr) = await Run(addresses, "watch", jobId, "--key", SchedulerCluster.Tenants[0].Key);
        Assert.True(exit == 0, stderr);
        Assert.Contains($"job={jobId}", stderr, StringComparison.Ordinal);

        (exit, stdout, stderr) = await Run(addresses, "get", jobId, "--key", SchedulerCluster.Tenants[0].Key, "-o", "json");
        Assert.True(exit == 0, stderr);
        using (var job = JsonDocument.Parse(stdout))
        {
            Assert.Equal("JOB_STATUS_COMPLETED", job.RootElement.GetProperty("status").GetString());
        }

        (exit, _, stderr) = await Run(addresses, "explain", jobId);
        Assert.True(exit == 0, stderr);

        using var admin = cluster.Admin();
        Assert.Equal(2.0, (await admin.GetTenantAsync("cli-rotation")).Weight);
    }

    [Fact]
    public async Task NoAddressAnswers_TheErrorNamesEveryAddressTried()
    {
        var (first, second) = (Closed(), Closed());

        var (exit, stdout, stderr) = await Run($"{first}, {second}", "jobs");

        Assert.Equal(2, exit);
        Assert.Empty(stdout);
        Assert.StartsWith($"error: Unavailable: cannot reach the scheduler at any of its 2 addresses: {first}: ", stderr, StringComparison.Ordinal);
        Assert.Contains($"; {second}: ", stderr, StringComparison.Ordinal);
        Assert.Equal(2, CountOf("Connection refused", stderr));
    }

    [Fact]
    public async Task AConnectionDroppedAfterItOpened_ARepeatableCallMovesOn_ANewKeyIsNotCreatedTwice()
    {
        using var dropper = new DroppingListener();
        var addresses = $"{dropper.Address},{cluster.Address}";
        var tenant = SchedulerCluster.Tenants[2].Id;

        // A read repeats safely.
        var (exit, stdout, stderr) = await Run(addresses, "keys", "list", tenant, "-o", "json");
        Assert.True(exit == 0, stderr);
        var before = JsonDocument.Parse(stdout).RootElement.GetArrayLength();

        // A key's creation may have reached the first silo (its secret then lost): it is not repeated on the next.
        (exit, stdout, stderr) = await Run(addresses, "keys", "create", tenant);
        Assert.Equal(2, exit);
        Assert.Empty(stdout);
        Assert.StartsWith($"error: Unavailable: cannot reach the scheduler at {dropper.Address}: ", stderr, StringComparison.Ordinal);
        Assert.Contains("not tried on the other addresses: the call may have reached the silo", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(cluster.Address, stderr, StringComparison.Ordinal);

        (exit, stdout, stderr) = await Run(cluster.Address, "keys", "list", tenant, "-o", "json");
        Assert.True(exit == 0, stderr);
        Assert.Equal(before, JsonDocument.Parse(stdout).RootElement.GetArrayLength());
    }

    [Fact]
    public async Task ASiloThatAcceptsAndNeverAnswers_IsGivenUp_AndTheNextAddressAnswers()
    {
        // A frozen silo (SIGSTOP, a stalled VM) or one behind a network that drops its packets: the kernel (or nobody)
        // takes the connection and no answer ever comes. schedctl waited for ever on the first address, never trying the
        // next; a listener that never accepts is that silo.
        using var frozen = new TcpListener(IPAddress.Loopback, 0);
        frozen.Start();
        var silent = $"http://127.0.0.1:{((IPEndPoint)frozen.LocalEndpoint).Port}";

        var (exit, stdout, stderr) = await Run($"{silent},{cluster.Address}", "summary", "-o", "json");
        Assert.True(exit == 0, stderr);
        using (var summary = JsonDocument.Parse(stdout))
        {
            Assert.True(summary.RootElement.GetProperty("nodes").GetInt32() >= 2);
        }

        // Alone, it is named as any unreachable address is.
        (exit, stdout, stderr) = await Run(silent, "summary");
        Assert.Equal((2, ""), (exit, stdout));
        Assert.StartsWith($"error: Unavailable: cannot reach the scheduler at {silent}: the connection failed (", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ftp://127.0.0.1:1")]
    [InlineData("http://127.0.0.1:5000,not-a-url")]
    [InlineData(" , ")]
    public async Task AnAddressNotAUrl_IsRefusedBeforeAnyCall_NamingIt(string addresses)
    {
        var (exit, _, stderr) = await Run(addresses, "summary");

        Assert.Equal(1, exit);
        Assert.StartsWith("error: the address must be an http:// or https:// URL, not '", stderr, StringComparison.Ordinal);
    }

    private static int CountOf(string text, string within) => (within.Length - within.Replace(text, "", StringComparison.Ordinal).Length) / text.Length;

    // A loopback port nothing listens on: connecting to it is refused.
    private static string Closed() => $"http://127.0.0.1:{FreePort.Next()}";

    private static Task<(int ExitCode, string Stdout, string Stderr)> Run(string addresses, params string[] arguments) =>
        Schedctl.Run(["--address", addresses, "--admin-key", SchedulerCluster.AdminKey, .. arguments]);

    /// <summary>Accepts every connection, reads until the client's request (its first HTTP/2 HEADERS frame) has arrived,
    /// and resets the connection: the call was sent and lost. Dropping at accept instead raced the client under load: a
    /// reset that came before the request was written is a call that never left, which any command may repeat.</summary>
    private sealed class DroppingListener : IDisposable
    {
        private const int PrefaceBytes = 24;
        private const byte HeadersFrame = 0x1;

        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _accepting;

        public DroppingListener()
        {
            _listener.Start();
            Address = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";
            _accepting = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    try
                    {
                        using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                        client.Client.LingerState = new LingerOption(true, 0);
                        using var read = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                        read.CancelAfter(TimeSpan.FromSeconds(10));
                        await ReadUntilRequest(client.GetStream(), read.Token);
                    }
                    catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                    {
                        return;
                    }
                    catch (Exception e) when (e is OperationCanceledException or IOException or EndOfStreamException)
                    {
                        // The client gave up or closed first: reset it all the same.
                    }
                }
            });
        }

        private static async Task ReadUntilRequest(NetworkStream stream, CancellationToken cancellationToken)
        {
            await stream.ReadExactlyAsync(new byte[PrefaceBytes], cancellationToken);
            var header = new byte[9];
            while (true)
            {
                await stream.ReadExactlyAsync(header, cancellationToken);
                if (header[3] == HeadersFrame)
                {
                    return;
                }

                var length = (header[0] << 16) | (header[1] << 8) | header[2];
                await stream.ReadExactlyAsync(new byte[length], cancellationToken);
            }
        }

        public string Address { get; }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Dispose();
            _accepting.Wait(TimeSpan.FromSeconds(5));
            _stop.Dispose();
        }
    }
}
