using System.Text;
using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Placement;

namespace Scheduler.Silo.Nodes;

/// <summary>A job running on a node, as the node link tracks it: who listens, what was delivered (including by an
/// earlier dispatch, when the ticket carries it), what it cost.</summary>
internal sealed class RunningSequence
{
    private readonly StringBuilder _text = new();
    private readonly List<int> _tokenEnds = [];

    // Absolute index of the first token in _tokenEnds: 0 when the ticket carries the earlier output (or there is none).
    private readonly int _base;

    public RunningSequence(AdmittedSequence admitted, DateTimeOffset admittedAt)
    {
        Admitted = admitted;
        AdmittedAt = admittedAt;
        Sinks = [.. admitted.Ticket.Watchers.Distinct()];
        if (admitted.Ticket.Delivered is { } earlier && earlier.TokenEnds.Length == admitted.Ticket.ResumeFromToken)
        {
            _text.Append(earlier.Text);
            _tokenEnds.AddRange(earlier.TokenEnds);
        }
        else
        {
            _base = admitted.Ticket.ResumeFromToken;
        }
    }

    public AdmittedSequence Admitted { get; }

    public JobTicket Ticket => Admitted.Ticket;

    public List<IJobEventSink> Sinks { get; }

    public DateTimeOffset AdmittedAt { get; }

    /// <summary>When this run delivered its first token; null until it does.</summary>
    public DateTimeOffset? FirstTokenAt { get; set; }

    /// <summary>When the job was first admitted: by an earlier run, if this one resumes it.</summary>
    public DateTimeOffset FirstAdmittedAt => Ticket.FirstAdmittedAt ?? AdmittedAt;

    /// <summary>When the job's client had its first token, by an earlier run or this one; null if not yet.</summary>
    public DateTimeOffset? JobFirstTokenAt => Ticket.FirstTokenAt ?? FirstTokenAt;

    public double CostUsd { get; set; }

    /// <summary>Index of the first token whose text this run knows: 0 when the ticket carried the earlier output.</summary>
    public int FirstKnownToken => _base;

    /// <summary>Index of the next token; tokens before it were delivered (including those of an earlier dispatch).</summary>
    public int NextToken => _base + _tokenEnds.Count;

    public string Text => _text.ToString();

    public IReadOnlyList<int> TokenEnds => _tokenEnds;

    /// <summary>Everything delivered so far, for a re-dispatch to carry on from; null if an earlier part is unknown.</summary>
    public DeliveredOutput? Delivered => _base == 0 ? new DeliveredOutput(Text, [.. _tokenEnds]) : null;

    /// <summary>The job handed back from here, to resume after what it delivered.</summary>
    public RequeuedSequence HandBack(string? error = null) =>
        new(Ticket.JobId, NextToken, Delivered, error, FirstAdmittedAt, JobFirstTokenAt);

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

    /// <summary>Text of one delivered token (absolute index, at or after <see cref="FirstKnownToken"/>), for a late watcher.</summary>
    public string TokenText(int token)
    {
        var local = token - _base;
        var start = local == 0 ? 0 : _tokenEnds[local - 1];
        return _text.ToString(start, _tokenEnds[local] - start);
    }
}
