using Scheduler.Policies.Prefix;

namespace Scheduler.Simulator.Workload;

/// <summary>One request to replay.</summary>
/// <param name="Id">Unique id (also the job id).</param>
/// <param name="TenantId">Owning tenant.</param>
/// <param name="ArrivalMs">Arrival on the virtual clock, after rate scaling.</param>
/// <param name="PromptTokens">Prompt length.</param>
/// <param name="OutputTokens">Tokens generated (the job's max tokens: trace outputs are exact).</param>
/// <param name="TtftObjectiveMs">Objective for the time to first token.</param>
/// <param name="Blocks">The prompt's blocks, for prefix caching; null for a prefix-free trace.</param>
/// <param name="SessionId">The conversation (or agent) the request is a turn of; null when it is one of a kind. Given to
/// the placement only when the policy places by session (<see cref="Scheduler.Policies.Placement.IPlacementPolicy.PlacesBySession"/>).</param>
internal sealed record SimRequest(
    string Id, string TenantId, double ArrivalMs, int PromptTokens, int OutputTokens, double TtftObjectiveMs,
    PromptBlocks? Blocks = null, string? SessionId = null);

/// <summary>A workload: requests in arrival order and the tenants' weights.</summary>
internal sealed record Workload(string Name, IReadOnlyList<SimRequest> Requests, IReadOnlyDictionary<string, double> Weights);
