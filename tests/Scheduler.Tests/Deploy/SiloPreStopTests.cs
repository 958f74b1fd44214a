using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace Scheduler.Tests.Deploy;

/// <summary>Kubernetes takes a terminating pod out of the Service's endpoints while it sends SIGTERM, and each node's
/// proxy learns it a moment later: a silo that drained at once refused the new connections still routed to it. The
/// chart's silos serve on through a preStop pause first, and the grace period covers the pause and the drain.</summary>
public sealed class SiloPreStopTests
{
    [Fact]
    public async Task ProductionExample_Silo_PausesBeforeItDrainsWithinItsGracePeriod()
    {
        var rendered = await RenderedManifests.RenderExampleAsync("production.yaml");

        var pod = RenderedManifests.Child(rendered.Get("Deployment", "scheduler-silo"), "spec", "template", "spec")!;
        var container = ((YamlSequenceNode)RenderedManifests.Child(pod, "containers")!).Children[0];
        var sleep = (YamlSequenceNode)RenderedManifests.Child(container, "lifecycle", "preStop", "exec", "command")!;
        Assert.Equal(["sleep", "5"], sleep.Children.Select(c => ((YamlScalarNode)c).Value));

        var drain = ((YamlSequenceNode)RenderedManifests.Child(container, "env")!).Children
            .Single(e => RenderedManifests.Scalar(e, "name") == "DOTNET_SHUTDOWNTIMEOUTSECONDS");
        var grace = Seconds(RenderedManifests.Scalar(pod, "terminationGracePeriodSeconds"));
        Assert.True(grace > 5 + Seconds(RenderedManifests.Scalar(drain, "value")), $"grace {grace} s");
    }

    private static int Seconds(string? value) => int.Parse(value!, CultureInfo.InvariantCulture);
}
