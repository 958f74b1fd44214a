using System.Globalization;
using Scheduler.Bench.Harness;
using Scheduler.Tests.EndToEnd;

namespace Scheduler.Bench.Restart;

/// <summary>
/// A redis-server on loopback (no persistence: the process holds the data, as a Redis a silo outlives would) and the
/// standalone scheduler in Redis mode with its simulated fleet, on fixed ports so that a restarted silo comes back on
/// the dead one's address and silo port (it then marks the dead entry as an older generation of itself at once, as a
/// restarted pod does). Every process is stopped by its PID.
/// </summary>
internal sealed class StandaloneOnRedis : IAsyncDisposable
{
    public const string Model = "llama-3.1-8b";
    public const string AdminKey = "restart-bench-admin";
    private const string NodeToken = "restart-bench-node";

    private readonly RestartBenchSettings _settings;
    private readonly int[] _ports;
    private readonly ChildProcess _redis;
    private readonly List<ChildProcess> _silos = [];

    private StandaloneOnRedis(RestartBenchSettings settings, int[] ports, ChildProcess redis)
    {
        _settings = settings;
        _ports = ports;
        _redis = redis;
    }

    /// <summary>The silo's gRPC address.</summary>
    public string Address => $"http://127.0.0.1:{_ports[0]}";

    /// <summary>The silo's HTTP port (/readyz).</summary>
    public int HttpPort => _ports[1];

    /// <summary>The running silo's process id.</summary>
    public int SiloPid => _silos[^1].Pid;

    /// <summary>Starts redis-server and the first silo (not waiting for either to answer).</summary>
    public static StandaloneOnRedis Start(RestartBenchSettings settings)
    {
        var ports = FreePorts.Take(6);
        var redis = ChildProcess.Start(settings.RedisServer,
            ["--port", ports[5].ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            keepOutput: true);
        var fleet = new StandaloneOnRedis(settings, ports, redis);
        fleet.StartSilo();
        return fleet;
    }

    /// <summary>Starts a silo on the same ports and Redis; returns when the process was started (UTC).</summary>
    public DateTime StartSilo()
    {
        var assembly = Path.Combine(RepositoryPaths.Root(), "src", "Scheduler.Standalone", "bin", _settings.Configuration, "net10.0", "Scheduler.Standalone.dll");
        if (!File.Exists(assembly))
        {
            throw new FileNotFoundException($"build src/Scheduler.Standalone in {_settings.Configuration} first", assembly);
        }

        var startedAt = DateTime.UtcNow;
        _silos.Add(ChildProcess.Start("dotnet",
        [
            assembly,
            "--Scheduler:Clustering=redis", $"--Scheduler:Redis=127.0.0.1:{_ports[5]}",
            $"--Scheduler:GrpcPort={_ports[0]}", $"--Scheduler:HttpPort={_ports[1]}", $"--Scheduler:OpenAiPort={_ports[2]}",
            $"--Scheduler:SiloPort={_ports[3]}", $"--Scheduler:GatewayPort={_ports[4]}",
            $"--Scheduler:AdminApiKey={AdminKey}", $"--Scheduler:NodeToken={NodeToken}",
            $"--Scheduler:EmbeddedFleet:SpeedUp={_settings.SpeedUp}",
            // Warnings (an Orleans stall, a node's failed registration) and the lines the run is timed by: the placement's
            // activation and rebuild, each embedded node's registration and the fleet's.
            "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Scheduler=Warning",
            "--Logging:LogLevel:Scheduler.Grains.Placement=Information", "--Logging:LogLevel:Scheduler.Standalone=Information",
            "--Logging:LogLevel:Scheduler.Worker=Information",
            "--Logging:Console:FormatterName=simple", "--Logging:Console:FormatterOptions:SingleLine=true",
            "--Logging:Console:FormatterOptions:UseUtcTimestamp=true", "--Logging:Console:FormatterOptions:TimestampFormat=HH:mm:ss.fff ",
            .. _settings.SiloSettings.Select(s => "--" + s),
        ], keepOutput: true));
        return startedAt;
    }

    /// <summary>Kills the running silo at once (SIGKILL to its PID), as a crash would.</summary>
    public async Task KillSiloAsync()
    {
        var silo = _silos[^1];
        silo.Kill();
        await silo.WaitForExitAsync();
    }

    /// <summary>Fails with the silo's last lines when it exited.</summary>
    public void ThrowIfSiloExited()
    {
        if (_silos[^1] is { HasExited: true } silo)
        {
            throw new InvalidOperationException($"silo {silo.Pid} exited ({silo.ExitCode}):{Environment.NewLine}{string.Join(Environment.NewLine, silo.Output.TakeLast(40))}");
        }
    }

    /// <summary>When the running silo first logged a line containing <paramref name="text"/> (UTC), if it has.</summary>
    public DateTime? LoggedAt(string text) =>
        _silos[^1].Output.FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal)) is { Length: >= 12 } line
        && TimeOnly.TryParseExact(line[..12], "HH:mm:ss.fff", CultureInfo.InvariantCulture, DateTimeStyles.None, out var time)
            ? DateOnly.FromDateTime(DateTime.UtcNow).ToDateTime(time, DateTimeKind.Utc)
            : null;

    /// <summary>Writes every silo's output to <paramref name="directory"/>, one file per silo process.</summary>
    public void SaveLogs(string directory)
    {
        Directory.CreateDirectory(directory);
        foreach (var silo in _silos)
        {
            File.WriteAllLines(Path.Combine(directory, $"silo-{silo.Pid}.log"), silo.Output);
        }
    }

    /// <summary>The running silo's lines containing <paramref name="text"/>.</summary>
    public IReadOnlyList<string> Lines(string text) => [.. _silos[^1].Output.Where(l => l.Contains(text, StringComparison.Ordinal))];

    /// <summary>The running silo's warnings and errors (the simple formatter's "warn:", "fail:" and "crit:" lines).</summary>
    public IReadOnlyList<string> Warnings() =>
        [.. _silos[^1].Output.Where(l => l.Contains(" warn: ", StringComparison.Ordinal) || l.Contains(" fail: ", StringComparison.Ordinal) || l.Contains(" crit: ", StringComparison.Ordinal))];

    public async ValueTask DisposeAsync()
    {
        foreach (var silo in _silos)
        {
            await silo.DisposeAsync();
        }

        await _redis.DisposeAsync();
    }
}
