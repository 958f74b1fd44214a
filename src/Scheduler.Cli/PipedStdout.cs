using System.Diagnostics.CodeAnalysis;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Scheduler.Cli;

/// <summary>
/// stdout written so that a write to a pipe whose reader has gone throws <see cref="IOException"/>. .NET's console
/// swallows that failure (EPIPE) and reports success, so <c>schedctl top | head -n 20</c> went on fetching and printing
/// frames nobody could read, every 2 s, until killed. Installed for the command's run; disposing it puts the console's
/// own writer back.
/// </summary>
internal sealed class PipedStdout : IDisposable
{
    [SuppressMessage("Reliability", "CA2213:Disposable fields should be disposed", Justification = "The console's own writer: put back, not ours to dispose.")]
    private readonly TextWriter _previous = Console.Out;
    private readonly SafeFileHandle _stdout = new(1, ownsHandle: false);
    private readonly StreamWriter _writer;

    public PipedStdout()
    {
        // File descriptor 1 itself, not owned: the process keeps its stdout. No buffer of the stream's own: each write
        // the writer flushes reaches the pipe at once, as the console's does, and fails there when nobody reads.
        _writer = new StreamWriter(new FileStream(_stdout, FileAccess.Write, bufferSize: 0), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false))
        {
            AutoFlush = true,
        };
        Console.SetOut(_writer);
    }

    public void Dispose()
    {
        Console.SetOut(_previous);
        try
        {
            _writer.Dispose();
        }
        catch (IOException)
        {
            // What was left to flush has nowhere to go: the reader is gone.
        }

        _stdout.Dispose();
    }
}
