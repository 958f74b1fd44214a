using System.Text.Json;

namespace Scheduler.Tests.Deploy;

/// <summary>The chart wires the scheduler's capacity signal to an autoscaler: each autoscaled worker pool gets a KEDA
/// ScaledObject sizing its StatefulSet to the replicas the scheduler wants for that pool, per pod. The gauge and its
/// pool label are the ones a real silo exports (scraped in <c>ObservabilityTests.WantedReplicas_…</c>).</summary>
public sealed class WorkerAutoscalingTests
{
    [Fact]
    public async Task WorkerAutoscalingExample_ScalesEachAutoscaledPool_OnItsWantedReplicasPerPod_AndLeavesItsCountToKeda()
    {
        var rendered = await RenderedManifests.RenderExampleAsync("worker-autoscaling.yaml");

        var scaled = rendered.All("ScaledObject").ToDictionary(o => RenderedManifests.Scalar(o, "metadata", "name")!);
        Assert.Equal(["scheduler-worker-l4", "scheduler-worker-l4-spot"], scaled.Keys.Order(StringComparer.Ordinal));
        foreach (var (pool, count, max) in new[] { ("l4-spot", "2", "8"), ("l4", "2", "4") })
        {
            var name = $"scheduler-worker-{pool}";
            var spec = RenderedManifests.Child(scaled[name], "spec")!;
            Assert.Equal(("StatefulSet", name), (RenderedManifests.Scalar(spec, "scaleTargetRef", "kind"), RenderedManifests.Scalar(spec, "scaleTargetRef", "name")));
            Assert.Equal(("1", max), (RenderedManifests.Scalar(spec, "minReplicaCount"), RenderedManifests.Scalar(spec, "maxReplicaCount")));
            var trigger = Assert.Single(((YamlDotNet.RepresentationModel.YamlSequenceNode)RenderedManifests.Child(spec, "triggers")!).Children);
            Assert.Equal(("prometheus", "AverageValue"), (RenderedManifests.Scalar(trigger, "type"), RenderedManifests.Scalar(trigger, "metricType")));
            Assert.Equal(
                $"sum(scheduler_capacity_wanted_replicas{{namespace=\"scheduler\", scheduler_worker_pool=\"{pool}\"}})",
                RenderedManifests.Scalar(trigger, "metadata", "query"));
            Assert.Equal(count, RenderedManifests.Scalar(trigger, "metadata", "threshold"));

            // KEDA owns the pod count: a rendered one would reset the pool on every upgrade.
            Assert.Null(RenderedManifests.Child(rendered.Get("StatefulSet", name), "spec", "replicas"));
        }

        Assert.Equal("1", RenderedManifests.Scalar(rendered.Get("StatefulSet", "scheduler-worker-h100"), "spec", "replicas"));

        // The scheduler may want as many replicas as the largest autoscaled pool holds (8 pods of 2), not its default 8.
        using var settings = JsonDocument.Parse(rendered.ConfigMapValue("scheduler-silo", "appsettings.json"));
        Assert.Equal(16, settings.RootElement.GetProperty("Scheduler").GetProperty("Scheduling").GetProperty("Capacity").GetProperty("MaxReplicasPerPool").GetInt32());
    }
}
