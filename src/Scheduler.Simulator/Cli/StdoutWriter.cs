using System.Text;

namespace Scheduler.Simulator.Cli;

/// <summary>
/// A command's stdout, each write's I/O failure an <see cref="OutputWriteException"/> naming stdout: stdout redirected to
/// a full disk (<c>&gt; /dev/full</c>) or closed (<c>&gt;&amp;-</c>) read "error: No space left on device" or "error: Access
/// to the path is denied." and exit code 2, as if an option or input file were wrong. A pipe whose reader left
/// (<c>| head -1</c>) is no failure: .NET's console drops what it cannot write there and the run ends with its own exit
/// code, as <c>schedctl top | head</c> does. The writer is opened at the first write, so a command that prints nothing
/// (matrix) never needs a stdout; it is not this one's to dispose.
/// </summary>
internal sealed class StdoutWriter(Func<TextWriter> open) : TextWriter
{
    private const string Target = "the output to stdout";
    private TextWriter? _inner;

    // The console opens stdout on first use, and a closed one fails there (EBADF): inside the guard, as a write.
    private TextWriter Inner => _inner ??= open();

    public override Encoding Encoding => OutputWriteException.Around(Target, () => Inner.Encoding);

    public override void Write(char value) => OutputWriteException.Around(Target, () => Inner.Write(value));

    public override void Write(string? value) => OutputWriteException.Around(Target, () => Inner.Write(value));

    public override void Write(char[] buffer, int index, int count) => OutputWriteException.Around(Target, () => Inner.Write(buffer, index, count));

    public override void WriteLine() => OutputWriteException.Around(Target, () => Inner.WriteLine());

    public override void WriteLine(string? value) => OutputWriteException.Around(Target, () => Inner.WriteLine(value));

    public override void Flush() => OutputWriteException.Around(Target, () => _inner?.Flush());
}
