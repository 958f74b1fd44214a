namespace Scheduler.Policies.Fairness;

/// <summary>Where a node sits in its linked list.</summary>
internal static class ListPositions
{
    /// <summary>The node's index in its list, walked from both ends at once: a job just queued is its list's last, and
    /// its enqueue asks its position, which walked a deep backlog's every job — 50,000 steps a submission in a flood
    /// of 50,000, in the placement's one turn at a time.</summary>
    public static int IndexOf<T>(LinkedListNode<T> node)
    {
        var (before, after, steps) = (node.Previous, node.Next, 0);
        while (before is not null && after is not null)
        {
            (before, after, steps) = (before.Previous, after.Next, steps + 1);
        }

        return before is null ? steps : node.List!.Count - 1 - steps;
    }
}
