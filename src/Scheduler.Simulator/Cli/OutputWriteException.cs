namespace Scheduler.Simulator.Cli;

/// <summary>
/// Writing the simulator's output failed — a full disk, stdout closed, a results file in the way — once its inputs were
/// read and its options checked: a failure while it ran (exit code <see cref="SimulatorCommands.Failed"/>), not bad input.
/// Reads fail with the same <see cref="IOException"/>s as writes; telling them apart where the write happens keeps a
/// full disk from reading "fix your option or file" (exit code 2, in the runtime's words naming nothing).
/// </summary>
internal sealed class OutputWriteException(string target, Exception inner) : Exception($"writing {target}: {inner.Message}", inner)
{
    /// <summary>Runs <paramref name="write"/>, its I/O failure one naming <paramref name="target"/> (a file, a folder, stdout).</summary>
    public static void Around(string target, Action write) => Around(target, () =>
    {
        write();
        return true;
    });

    /// <summary>Runs <paramref name="write"/> and returns what it does, its I/O failure one naming <paramref name="target"/>.</summary>
    public static T Around<T>(string target, Func<T> write)
    {
        try
        {
            return write();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OutputWriteException(target, e);
        }
    }
}
