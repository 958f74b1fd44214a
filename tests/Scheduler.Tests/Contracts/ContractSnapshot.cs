using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Contracts;

/// <summary>
/// A checked-in description of a contract that two versions of the scheduler share during a rolling upgrade (see
/// docs/operations.md, "Roll a new version without losing jobs"). The file is the contract of the code on main, which is
/// assumed released: a change that breaks a rule fails <c>…_KeepsTheRecordedContract</c>; an additive change passes it
/// and fails <c>…_SnapshotIsCurrent</c> until the file records it (<see cref="UpdateCommand"/>), so the snapshot grows
/// with the code and the next change is checked against it.
/// </summary>
internal static class ContractSnapshot
{
    /// <summary>Set to 1 to rewrite the snapshots from the code (refused while a rule is broken).</summary>
    public const string UpdateVariable = "SCHEDULER_UPDATE_CONTRACTS";

    public const string UpdateCommand =
        UpdateVariable + "=1 dotnet test tests/Scheduler.Tests --filter \"FullyQualifiedName~Scheduler.Tests.Contracts\"";

    private static bool Updating => Environment.GetEnvironmentVariable(UpdateVariable) == "1";

    public static string PathOf(string fileName) => Path.Combine(RepoPaths.Root, "tests", "Scheduler.Tests", "Contracts", fileName);

    /// <summary>The snapshot's lines without comments and blank lines.</summary>
    public static IReadOnlyList<string> Read(string fileName) => ContentLines(File.ReadAllText(PathOf(fileName)));

    public static IReadOnlyList<string> ContentLines(string text) =>
        [.. text.ReplaceLineEndings("\n").Split('\n').Where(l => l.Trim().Length > 0 && !l.StartsWith('#'))];

    /// <summary>Fails with every broken rule, each saying what broke and why it matters.</summary>
    public static void AssertNoViolations(string what, IReadOnlyList<string> violations) =>
        Assert.True(violations.Count == 0,
            $"{violations.Count} change(s) to the {what} break a rolling upgrade (old and new versions run side by side and " +
            "read each other's data):\n  - " + string.Join("\n  - ", violations) +
            "\nRestore the recorded contract (docs/operations.md, \"Roll a new version without losing jobs\", says how to " +
            "change it safely).");

    /// <summary>
    /// The snapshot file holds <paramref name="current"/>, or is rewritten to it when <see cref="UpdateVariable"/> is 1
    /// and no rule is broken. The header explains the file to whoever opens it.
    /// </summary>
    public static void AssertCurrent(string fileName, string header, IReadOnlyList<string> current, IReadOnlyList<string> violations)
    {
        var path = PathOf(fileName);
        if (Updating)
        {
            Assert.True(violations.Count == 0,
                $"{fileName} not rewritten: the code breaks the recorded contract (see the other contract test's failure). " +
                "A snapshot records compatible changes only.");
            File.WriteAllText(path, header + string.Join("", current.Select(l => l + "\n")));
            return;
        }

        var recorded = Read(fileName);
        var added = current.Except(recorded, StringComparer.Ordinal).ToList();
        var dropped = recorded.Except(current, StringComparer.Ordinal).ToList();
        Assert.True(added.Count == 0 && dropped.Count == 0 && recorded.SequenceEqual(current, StringComparer.Ordinal),
            $"{fileName} does not record the current contract. " +
            (violations.Count > 0
                ? "Some changes break it (see the …_KeepsTheRecordedContract failure): restore them rather than record them."
                : "The changes pass the compatibility rules (additions, renames, reservations); record them so the next " +
                  "change is checked against them:\n  " + UpdateCommand) +
            "\nLines only in the code:" + Listed(added) + "\nLines only in the snapshot:" + Listed(dropped));
    }

    private static string Listed(List<string> lines) => lines.Count == 0 ? " (none)" : "\n    " + string.Join("\n    ", lines);
}
