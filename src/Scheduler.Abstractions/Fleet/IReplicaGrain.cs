namespace Scheduler.Abstractions.Fleet;

/// <summary>One per replica: the mirror of its running batch as the engine reports it (the scheduler's own
/// reservations live in the placement grain, which admits).</summary>
public interface IReplicaGrain : IGrainWithStringKey
{
    Task Register(ReplicaRegistration registration);

    [OneWay]
    Task ReportCapacity(EngineCapacity capacity);

    Task<ReplicaInfo?> Get();

    /// <summary>Its node is lost: what its engine last reported is no longer live, and is dropped until it reports
    /// again.</summary>
    Task NodeLost();

    /// <summary>Its node is forgotten: the replica is unknown from now on (until a node registers it again).</summary>
    Task Forget();
}
