using System.Diagnostics;
using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Cli;

/// <summary>Runs the built schedctl as its own process, stdout and stderr apart, stdin closed (not a terminal), and kills
/// it by its PID if it outlives <see cref="Timeout"/>.</summary>
internal static class Schedctl
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static Task<(int ExitCode, string Stdout, string Stderr)> Run(params string[] arguments) => Run(new Dictionary<string, string>(), arguments);

    /// <summary>Runs it with <paramref name="environment"/> set on top of the test's own.</summary>
    public static Task<(int ExitCode, string Stdout, string Stderr)> Run(IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var info = new ProcessStartInfo("dotnet");
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        info.ArgumentList.Add(RepoPaths.SchedctlAssembly);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        return BoundedProcess.RunAsync(info, Timeout);
    }
}
