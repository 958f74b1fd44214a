using System.Diagnostics;
using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Cli;

/// <summary>Runs the built schedctl as its own process, stdout and stderr apart, stdin closed (not a terminal), and kills
/// it by its PID if it outlives <see cref="Timeout"/>.</summary>
internal static class Schedctl
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static async Task<(int ExitCode, string Stdout, string Stderr)> Run(params string[] arguments)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(RepoPaths.SchedctlAssembly);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start schedctl");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(Timeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"schedctl {string.Join(' ', arguments)} ran longer than {Timeout}");
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}
