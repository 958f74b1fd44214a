using System.Text.RegularExpressions;

namespace Scheduler.Policies.Capacity;

/// <summary>
/// The name of a worker pool: the node group an autoscaler grows or shrinks (the Helm chart's pool name). The capacity
/// signal is sized per pool, so two groups of one product — on-demand and spot H100s, reserved and metered — are scaled
/// apart, the cheaper filled first. A worker that names none is in the pool named after its accelerators' product.
/// </summary>
public static partial class PoolNames
{
    /// <summary>The longest pool name: a Kubernetes label value's.</summary>
    public const int MaxLength = 63;

    /// <summary>What a pool name may be, in words, for error messages.</summary>
    public const string Rule = "1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit";

    /// <summary>True when <paramref name="name"/> may name a pool: it becomes a metric label and a Kubernetes label value.</summary>
    public static bool IsValid(string name) => name.Length <= MaxLength && Pattern().IsMatch(name);

    /// <summary>The pool of accelerators that name <paramref name="pool"/> (null or empty: none) of <paramref name="product"/>.</summary>
    public static string Of(string? pool, string product) => string.IsNullOrEmpty(pool) ? product : pool;

    [GeneratedRegex("^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")]
    private static partial Regex Pattern();
}
