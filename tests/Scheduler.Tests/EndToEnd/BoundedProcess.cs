using System.Diagnostics;

namespace Scheduler.Tests.EndToEnd;

/// <summary>Runs a short-lived process to its end — stdout and stderr apart, stdin closed (not a terminal) — and kills it,
/// with its children, by its PID if it outlives its time: schedctl, node and python scripts, npm.</summary>
internal static class BoundedProcess
{
    /// <summary>Runs what <paramref name="info"/> describes (its redirections are set here); a missing program throws,
    /// so the test fails rather than skips.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(ProcessStartInfo info, TimeSpan timeout)
    {
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.RedirectStandardInput = true;
        info.UseShellExecute = false;
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {info.FileName}");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var stop = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(stop.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"'{info.FileName} {string.Join(' ', info.ArgumentList)}{info.Arguments}' ran longer than {timeout.TotalSeconds} s: {await stderr}");
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Runs <paramref name="command"/> in <paramref name="folder"/> with <paramref name="environment"/> added, and
    /// returns what it printed; fails the test when it cannot start, exits non-zero or outlasts <paramref name="timeout"/>.</summary>
    public static async Task<string> RunToSuccessAsync(
        string command, string arguments, string folder, IReadOnlyDictionary<string, string> environment, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(command, arguments) { WorkingDirectory = folder };
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        var (exitCode, stdout, stderr) = await RunAsync(info, timeout);
        Assert.True(exitCode == 0, $"'{command} {arguments}' exited {exitCode}: {stderr}");
        return stdout;
    }
}
