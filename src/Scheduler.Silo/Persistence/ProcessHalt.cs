using System.Runtime.InteropServices;

namespace Scheduler.Silo.Persistence;

/// <summary>
/// Ends the process at once: one line on stderr, then the C library's <c>_exit</c> with the code given, which runs no
/// shutdown handler.
/// </summary>
/// <remarks>Why not <see cref="Environment.Exit"/>: the host's console lifetime answers it with the graceful stop (grains
/// deactivating, and writing the state they hold; Orleans leaving a membership table that may be gone) and waits for it,
/// which is exactly what a silo whose store was lost must not do.</remarks>
internal sealed class ProcessHalt : IProcessHalt
{
    public void Halt(int exitCode, string reason)
    {
        // Written and flushed here: the logger writes on a thread of its own, which _exit does not wait for.
        Console.Error.WriteLine($"silo stopped: {reason}");
        Console.Error.Flush();
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            Exit(exitCode);
        }

        Environment.Exit(exitCode);
    }

    // DllImport rather than LibraryImport, which would need unsafe code in the whole project for one blittable call.
    [DllImport("libc", EntryPoint = "_exit")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern void Exit(int status);
}
