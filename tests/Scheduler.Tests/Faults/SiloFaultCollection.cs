namespace Scheduler.Tests.Faults;

/// <summary>
/// The silo-kill and drain fault tests (Faults/SiloFailureTests, Faults/OpenAiFailoverTests,
/// EndToEnd/JobRetentionTests): one at a time, as in <see cref="FaultCollection"/>, and beside it. The two chains are
/// about equally long (CI's list of slowest test classes shows them).
/// </summary>
[CollectionDefinition(Name)]
public sealed class SiloFaultCollection
{
    public const string Name = "faults: silo kills";
}
