namespace Scheduler.Simulator.Engine;

/// <summary>Why a request was not served. Every request ends served or with one of these, so none is lost from the
/// figures.</summary>
internal enum Unserved
{
    /// <summary>Refused on arrival: prompt plus output exceed the model's context (the live API's 400).</summary>
    OverContext,

    /// <summary>Failed: prompt plus output exceed every replica's KV cache (or every metered endpoint's tokens per
    /// minute), so no replica could ever hold it.</summary>
    NoReplicaCanHold,

    /// <summary>Failed: placed on a metered endpoint whose tokens per minute are fewer than the request needs; the
    /// worker's upstream engine fails such a job rather than queue it forever.</summary>
    OverEndpointTokenLimit,

    /// <summary>Failed: still queued when the replay ended (no replica ever took it).</summary>
    NeverAdmitted,
}
