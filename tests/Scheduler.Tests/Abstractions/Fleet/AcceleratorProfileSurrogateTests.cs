using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Scheduler.Policies.Profiles;

namespace Scheduler.Tests.Abstractions.Fleet;

public sealed class AcceleratorProfileSurrogateTests
{
    [Fact]
    public void AcceleratorProfile_RoundTripsThroughTheOrleansSerializer_EveryField()
    {
        using var services = new ServiceCollection().AddSerializer().BuildServiceProvider();
        var serializer = services.GetRequiredService<Serializer<AcceleratorProfile>>();

        // Hourly GPUs and the metered LPU between them set every field of the surrogate.
        Assert.All(AcceleratorProfiles.All.Values, profile => Assert.Equal(profile, serializer.Deserialize(serializer.SerializeToArray(profile))));
    }
}
