using System.Diagnostics;
using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Cli;

/// <summary><c>schedctl top</c> with its output piped into a reader that stops reading (<c>schedctl top | head</c>).</summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed class TopPipeTests(SchedulerCluster cluster)
{
    [Fact]
    public async Task Top_TheReaderOfItsOutputGoesAway_ExitsAtItsNextFrame()
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])[RepoPaths.SchedctlAssembly, "--address", cluster.Address, "--admin-key", SchedulerCluster.AdminKey, "top", "--interval", "0.2"])
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start schedctl");
        try
        {
            process.StandardInput.Close();
            var stderr = process.StandardError.ReadToEndAsync();
            var first = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.StartsWith("schedctl top", first, StringComparison.Ordinal);

            // As `head -n 1` does once it has its line: the pipe's reading end closes. schedctl wrote on into it, every
            // 0.2 s, for ever (the console swallows EPIPE).
            process.StandardOutput.Close();

            using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(bound.Token);
            Assert.Equal((0, ""), (process.ExitCode, await stderr));
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }
    }
}
