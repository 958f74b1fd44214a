using Scheduler.Simulator.Fleet;

namespace Scheduler.Simulator.Engine;

/// <summary>How every command words the requests a replay did not serve, so none is only a count.</summary>
internal static class UnservedText
{
    public static string Describe(Unserved why, FleetSpec fleet) => why switch
    {
        Unserved.OverContext => $"refused: prompt + output over the model's context of {fleet.MaxContextTokens:#,0} tokens",
        Unserved.NoReplicaCanHold => "failed: larger than every replica's KV cache (and every metered endpoint's tokens per minute)",
        Unserved.OverEndpointTokenLimit => "failed: placed on a metered endpoint whose tokens per minute are fewer than it needs",
        _ => "failed: never admitted",
    };

    /// <summary>One line per reason: the reason, how many, and the first ten requests' ids and sizes.</summary>
    public static IEnumerable<string> Lines(IEnumerable<SimSequence> unserved, FleetSpec fleet) =>
        unserved.GroupBy(s => s.Unserved).Select(group =>
            $"{Describe(group.Key!.Value, fleet)}: {group.Count()} — {string.Join(", ", group.Take(10).Select(s => $"{s.Request.Id} ({s.Request.PromptTokens}+{s.Request.OutputTokens} tokens)"))}{(group.Count() > 10 ? ", …" : "")}");
}
