using Scheduler.Protos.V1;

namespace Scheduler.Cli;

/// <summary>Writes a job's tokens to stdout as they arrive, and ends the line they leave open.</summary>
internal sealed class TokenWriter
{
    private bool _lineOpen;

    /// <summary>Writes the chunk's text as is.</summary>
    public void Write(TokenChunk chunk)
    {
        if (chunk.Text.Length == 0)
        {
            return;
        }

        Console.Write(chunk.Text);
        _lineOpen = !chunk.Text.EndsWith('\n');
    }

    /// <summary>Ends the current line, if the tokens left one open.</summary>
    public void EndLine()
    {
        if (_lineOpen)
        {
            Console.WriteLine();
            _lineOpen = false;
        }
    }
}
