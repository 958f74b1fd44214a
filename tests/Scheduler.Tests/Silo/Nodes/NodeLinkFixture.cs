using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Jobs;
using Scheduler.Grains;
using Scheduler.Grains.Jobs;
using Scheduler.Protos.V1;
using Scheduler.Silo.Nodes;
using Scheduler.Silo.Streaming;
using Scheduler.Silo.Telemetry;
using Scheduler.Tests.Grains;
using static Scheduler.Tests.Grains.GrainTestKit;
using WireReason = Scheduler.Protos.V1.FinishReason;

namespace Scheduler.Tests.Silo.Nodes;

/// <summary>
/// A real <see cref="GrpcNodeLink"/> to node "n" (replica "r0" of model "m") over an in-process execution stream played
/// by a <see cref="ScriptedWorker"/>, with a memory journal whose settles a test can hold or refuse, and grains that
/// record their calls instead of running.
/// </summary>
internal sealed class NodeLinkFixture : IDisposable
{
    private readonly ServiceProvider _metrics = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly SchedulerTelemetry _telemetry;
    private readonly IGrainFactory _grains = DispatchProxy.Create<IGrainFactory, RecordingGrainFactory>();
    private readonly GrainReferences _references;
    private readonly JobSettlement _settlement;

    public NodeLinkFixture()
    {
        var options = Options.Create(new PlacementOptions());
        Journal = new GatedJobJournal(new MemoryJobJournal(new MemoryJobIndex(options, TimeProvider.System), options, TimeProvider.System));
        _references = new GrainReferences(_grains);
        _settlement = new JobSettlement(Journal, _references, [], TimeProvider.System, NullLogger<JobSettlement>.Instance);
        _telemetry = new SchedulerTelemetry(_metrics.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), new FleetGauges(), Options.Create(new TelemetryOptions()));
    }

    public GatedJobJournal Journal { get; }

    /// <summary>The grain calls the link made.</summary>
    public RecordingGrainFactory Calls => (RecordingGrainFactory)(object)_grains;

    /// <summary>A worker that runs each admitted job whole in one step: its three tokens, "abc", and its finish.</summary>
    public static ScriptedWorker WholeJobInOneStep() => new(admit => admit.Sequences.Select(s =>
    {
        var step = new StepReport { ReplicaId = admit.ReplicaId, StepMs = 10 };
        step.Tokens.Add(new SequenceTokens { SequenceId = s.SequenceId, FirstTokenIndex = 0, Text = "abc", TokenCount = 3 });
        step.Finished.Add(new SequenceFinished { SequenceId = s.SequenceId, Reason = WireReason.Length, CompletionTokens = 3 });
        return step;
    }));

    /// <summary>A job of three tokens of model "m" watched by <paramref name="watcher"/>.</summary>
    public static JobTicket Ticket(string jobId, IJobEventSink watcher) =>
        new(jobId, "tenant", Request("m", 10, 3), DateTimeOffset.UtcNow, [watcher], 1.0);

    /// <summary>The job placed on replica "r0".</summary>
    public static AdmittedSequence OnR0(JobTicket ticket) => new(ticket, new JobPlacement("r0", "acc-r0", "H100", "n", 0));

    /// <summary>The link to <paramref name="worker"/>, started.</summary>
    public GrpcNodeLink Start(ScriptedWorker worker)
    {
        var link = new GrpcNodeLink(
            Node("n", Replica("r0", "m", "n", 8, 10_000)), "token", worker, null, _references, _settlement, new JobEventHub(_grains), _telemetry, TimeProvider.System, NullLogger.Instance);
        link.Start();
        return link;
    }

    public void Dispose()
    {
        _telemetry.Dispose();
        _metrics.Dispose();
    }
}
