namespace Scheduler.Policies.Fairness;

/// <summary>
/// The tenants backlogged in one priority class, ordered by virtual counter, each weighed by its jobs queued in the
/// class: the lowest counter (where a newly backlogged tenant starts) and how many jobs the tenants below a counter hold
/// (a job's queue position), each in O(log tenants), and the lanes in serving order, for a pick that stops at the first
/// lane with a job it can serve. Each was a scan of every tenant, inside the placement's one turn at a time, at every
/// submission and admission: with thousands of tenants those scans were most of a submission's cost.
/// A treap (a binary search tree kept balanced by random heap priorities) keyed by (counter, lane ordinal), each node
/// holding the jobs of its subtree. The owner removes a lane's entry before changing its counter or its count in the
/// class and adds it back after, so every key here is one a lane still has.
/// </summary>
internal sealed class CounterIndex
{
    private Node? _root;
    private readonly Stack<Node> _path = new();

    /// <summary>The lowest counter of a lane in the index; +∞ when it is empty.</summary>
    public double Lowest => Leftmost()?.Counter ?? double.PositiveInfinity;

    /// <summary>The ordinal of the lane first in (counter, ordinal) order; -1 when the index is empty.</summary>
    public int FirstOrdinal => Leftmost()?.Ordinal ?? -1;

    /// <summary>The ordinal of the first lane in (counter, ordinal) order that <paramref name="test"/> accepts, asking
    /// the lanes in that order and none after it; -1 when none does.</summary>
    public int FirstAccepted<TTest>(ref TTest test)
        where TTest : struct, ILaneTest
    {
        // In order without parent links: down the left spine, then each node, then its right subtree; the stack holds
        // the nodes whose own turn is still to come (the tree's depth, O(log lanes)).
        _path.Clear();
        var node = _root;
        while (node is not null || _path.Count > 0)
        {
            while (node is not null)
            {
                _path.Push(node);
                node = node.Left;
            }

            node = _path.Pop();
            if (test.Accepts(node.Ordinal))
            {
                return node.Ordinal;
            }

            node = node.Right;
        }

        return -1;
    }

    /// <summary>Adds lane <paramref name="ordinal"/> at <paramref name="counter"/>, holding <paramref name="jobs"/> jobs of the class.</summary>
    public void Add(double counter, int ordinal, int jobs)
    {
        var (below, above) = Split(_root, counter, ordinal);
        _root = Merge(Merge(below, new Node(counter, ordinal, jobs)), above);
    }

    /// <summary>Removes the entry of lane <paramref name="ordinal"/>, which is at <paramref name="counter"/>.</summary>
    public void Remove(double counter, int ordinal) => _root = Remove(_root, counter, ordinal);

    /// <summary>The jobs of the lanes ahead of lane <paramref name="ordinal"/> at <paramref name="counter"/>: those with a
    /// lower counter, and at the same counter the older lanes, which a pick serves first.</summary>
    public int JobsBefore(double counter, int ordinal)
    {
        var jobs = 0;
        var node = _root;
        while (node is not null)
        {
            if (Compare(counter, ordinal, node) > 0)
            {
                jobs += SumOf(node.Left) + node.Jobs;
                node = node.Right;
            }
            else
            {
                node = node.Left;
            }
        }

        return jobs;
    }

    private Node? Leftmost()
    {
        var node = _root;
        while (node?.Left is not null)
        {
            node = node.Left;
        }

        return node;
    }

    private static int SumOf(Node? node) => node?.Sum ?? 0;

    private static int Compare(double counter, int ordinal, Node node) =>
        counter != node.Counter ? counter.CompareTo(node.Counter) : ordinal.CompareTo(node.Ordinal);

    /// <summary>Splits a subtree into the keys below (<paramref name="counter"/>, <paramref name="ordinal"/>) and the others.</summary>
    private static (Node? Below, Node? Above) Split(Node? node, double counter, int ordinal)
    {
        if (node is null)
        {
            return (null, null);
        }

        if (Compare(counter, ordinal, node) > 0)
        {
            var (below, above) = Split(node.Right, counter, ordinal);
            node.Right = below;
            node.Refresh();
            return (node, above);
        }
        else
        {
            var (below, above) = Split(node.Left, counter, ordinal);
            node.Left = above;
            node.Refresh();
            return (below, node);
        }
    }

    /// <summary>Joins two subtrees, every key of <paramref name="low"/> below every key of <paramref name="high"/>.</summary>
    private static Node? Merge(Node? low, Node? high)
    {
        if (low is null || high is null)
        {
            return low ?? high;
        }

        if (low.Priority > high.Priority)
        {
            low.Right = Merge(low.Right, high);
            low.Refresh();
            return low;
        }

        high.Left = Merge(low, high.Left);
        high.Refresh();
        return high;
    }

    private static Node? Remove(Node? node, double counter, int ordinal)
    {
        if (node is null)
        {
            return null;
        }

        var order = Compare(counter, ordinal, node);
        if (order == 0)
        {
            return Merge(node.Left, node.Right);
        }

        if (order < 0)
        {
            node.Left = Remove(node.Left, counter, ordinal);
        }
        else
        {
            node.Right = Remove(node.Right, counter, ordinal);
        }

        node.Refresh();
        return node;
    }

    private sealed class Node(double counter, int ordinal, int jobs)
    {
        public double Counter { get; } = counter;

        public int Ordinal { get; } = ordinal;

        public int Jobs { get; } = jobs;

        /// <summary>The heap priority: the ordinal mixed (SplitMix64's finaliser), so the tree's shape is as random as
        /// a random number generator's would make it, and the same for the same operations (a simulation is repeatable).</summary>
        public ulong Priority { get; } = Mix((ulong)ordinal);

        public int Sum { get; private set; } = jobs;

        public Node? Left { get; set; }

        public Node? Right { get; set; }

        public void Refresh() => Sum = SumOf(Left) + Jobs + SumOf(Right);

        private static ulong Mix(ulong z)
        {
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
