namespace Scheduler.Tests.Deploy;

/// <summary>A worker loads every replica's model before it listens, so its startup probe must allow the pool's own
/// load time: at a fixed 10 minutes, a pod loading a large model onto eight accelerators from a network volume was
/// restarted by the kubelet before it ever answered, again and again.</summary>
public sealed class WorkerStartupProbeTests
{
    [Fact]
    public async Task ProductionExample_StartupProbe_AllowsEachPoolItsStartupTimeout()
    {
        var rendered = await RenderedManifests.RenderExampleAsync("production.yaml");

        // h100 sets startupTimeoutSeconds: 1800; l4 keeps the default 600 s.
        foreach (var (pool, seconds) in new[] { ("h100", 1800), ("l4", 600) })
        {
            var container = RenderedManifests.Child(rendered.Get("StatefulSet", $"scheduler-worker-{pool}"), "spec", "template", "spec", "containers")!;
            var probe = RenderedManifests.Child(((YamlDotNet.RepresentationModel.YamlSequenceNode)container).Children[0], "startupProbe")!;
            var period = int.Parse(RenderedManifests.Scalar(probe, "periodSeconds")!, System.Globalization.CultureInfo.InvariantCulture);
            var failures = int.Parse(RenderedManifests.Scalar(probe, "failureThreshold")!, System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(seconds, period * failures);
        }
    }
}
