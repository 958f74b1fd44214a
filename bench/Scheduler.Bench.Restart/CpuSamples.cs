using System.Globalization;

namespace Scheduler.Bench.Restart;

/// <summary>
/// A process's CPU time (user + system, from <c>/proc/PID/stat</c>), sampled every 100 ms: on a machine shared with
/// other work a wall-clock time is mostly the wait for a core, and the CPU the silo spent is the figure that compares.
/// </summary>
internal sealed class CpuSamples : IAsyncDisposable
{
    // Linux reports utime and stime in clock ticks of 1/100 s (USER_HZ).
    private const double TicksPerSecond = 100;

    private readonly List<(DateTime At, double Seconds)> _samples = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _sampling;

    public CpuSamples(int pid) => _sampling = SampleAsync(pid);

    /// <summary>The CPU seconds spent by the last sample taken at or before <paramref name="at"/>; NaN before the first.</summary>
    public double At(DateTime? at)
    {
        lock (_samples)
        {
            return _samples.LastOrDefault(s => s.At <= at) is { At.Ticks: > 0 } sample ? sample.Seconds : double.NaN;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _sampling;
        _stop.Dispose();
    }

    private async Task SampleAsync(int pid)
    {
        var path = $"/proc/{pid}/stat";
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                // The command name (field 2) is in parentheses and may hold spaces: count fields after its ")".
                var stat = await File.ReadAllTextAsync(path);
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                var ticks = double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture);
                lock (_samples)
                {
                    _samples.Add((DateTime.UtcNow, ticks / TicksPerSecond));
                }

                await Task.Delay(100, _stop.Token);
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException)
            {
                // The process ended, or sampling was stopped.
                return;
            }
        }
    }
}
