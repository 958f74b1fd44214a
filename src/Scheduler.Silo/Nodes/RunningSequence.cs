using System.Text;
using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Jobs;

namespace Scheduler.Silo.Nodes;

/// <summary>A job running on a node, as the node link tracks it: who listens, what was delivered, what it cost.</summary>
internal sealed class RunningSequence(AdmittedSequence admitted, DateTimeOffset admittedAt)
{
    private readonly StringBuilder _text = new();
    private readonly List<int> _tokenEnds = [];

    public AdmittedSequence Admitted { get; } = admitted;

    public JobTicket Ticket => Admitted.Ticket;

    public List<IJobEventSink> Sinks { get; } = [.. admitted.Ticket.Watchers.Distinct()];

    public DateTimeOffset AdmittedAt { get; } = admittedAt;

    public DateTimeOffset? FirstTokenAt { get; set; }

    public double CostUsd { get; set; }

    /// <summary>Index of the next token; tokens before it were delivered (including those of an earlier dispatch).</summary>
    public int NextToken => Ticket.ResumeFromToken + _tokenEnds.Count;

    public string Text => _text.ToString();

    public IReadOnlyList<int> TokenEnds => _tokenEnds;

    /// <summary>Appends a chunk; returns false if it repeats tokens already seen, leaves a gap, or goes past max_tokens.</summary>
    public bool Append(int firstIndex, string text, int count)
    {
        // The bound also keeps a node's absurd token_count from growing the boundaries list without limit.
        if (firstIndex != NextToken || count <= 0 || count > Ticket.Request.MaxTokens - NextToken)
        {
            return false;
        }

        // Chunks are one token in practice; a multi-token chunk keeps one boundary per token at its end.
        _text.Append(text);
        for (var i = 0; i < count; i++)
        {
            _tokenEnds.Add(_text.Length);
        }

        return true;
    }

    /// <summary>Text of one delivered token (absolute index, at or after the resume point), for a late watcher.</summary>
    public string TokenText(int token)
    {
        var local = token - Ticket.ResumeFromToken;
        var start = local == 0 ? 0 : _tokenEnds[local - 1];
        return _text.ToString(start, _tokenEnds[local] - start);
    }
}
