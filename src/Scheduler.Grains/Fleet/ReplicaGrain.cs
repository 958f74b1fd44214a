using Scheduler.Abstractions.Fleet;

namespace Scheduler.Grains.Fleet;

/// <summary>The engine-reported mirror of one replica's running batch. In memory: the node re-reports it.</summary>
internal sealed class ReplicaGrain : Grain, IReplicaGrain
{
    private ReplicaRegistration? _registration;
    private EngineCapacity? _engine;

    public Task Register(ReplicaRegistration registration)
    {
        _registration = registration;
        return Task.CompletedTask;
    }

    public Task ReportCapacity(EngineCapacity capacity)
    {
        _engine = capacity;
        return Task.CompletedTask;
    }

    public Task NodeLost()
    {
        _engine = null;
        return Task.CompletedTask;
    }

    public Task Forget()
    {
        _registration = null;
        _engine = null;
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    public Task<ReplicaInfo?> Get() =>
        Task.FromResult(_registration is null ? null : new ReplicaInfo(_registration, _engine));
}
