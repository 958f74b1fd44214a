using Scheduler.Protos.V1;

namespace Scheduler.Cli;

/// <summary>
/// Writes a job's tokens to stdout as they arrive and ends the line they leave open; and schedctl's notes about the
/// stream (a resumption, an interruption) to stderr, each on a line of its own. On a terminal both streams show on one
/// screen, so a note written while the text is mid-line would land inside a line of it: the note then starts with a
/// line break — on stderr, so stdout's text stays exactly the job's.
/// </summary>
internal sealed class TokenWriter(TextWriter output, TextWriter error)
{
    // stdout's text ends mid-line: the stream's end ends that line.
    private bool _lineOpen;

    // The last thing written, on either stream, was text ending mid-line: a note must start a new line first. (After a
    // note the screen is at a line's start, though stdout's line is still open.)
    private bool _midLine;

    public TokenWriter()
        : this(Console.Out, Console.Error)
    {
    }

    /// <summary>Writes the chunk's text as is.</summary>
    public void Write(TokenChunk chunk)
    {
        if (chunk.Text.Length == 0)
        {
            return;
        }

        output.Write(chunk.Text);
        _lineOpen = !chunk.Text.EndsWith('\n');
        _midLine = _lineOpen;
    }

    /// <summary>Writes <paramref name="note"/> to stderr on a line of its own.</summary>
    public void Note(string note)
    {
        if (_midLine)
        {
            error.WriteLine();
            _midLine = false;
        }

        error.WriteLine(note);
    }

    /// <summary>Ends the current line, if the tokens left one open.</summary>
    public void EndLine()
    {
        if (_lineOpen)
        {
            output.WriteLine();
            _lineOpen = false;
            _midLine = false;
        }
    }
}
