using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Placement;
using Scheduler.Policies;
using Scheduler.Policies.Profiles;

namespace Scheduler.Tests.Abstractions.Fleet;

/// <summary>The records that carry a replica's prompt forms between grains and into storage keep the forms it refuses:
/// the field's zero value — what a record written before the field existed reads as — is "takes every form", never
/// "takes none", which would have refused every job of a model until its nodes registered again.</summary>
public sealed class PromptFormsRecordTests
{
    [Fact]
    public void ReplicaRegistration_WithoutRefusedForms_TakesEveryForm()
    {
        var registration = new ReplicaRegistration("r", "m", "a", "n", AcceleratorProfiles.H100, 8, 10_000, 8_192);

        Assert.Equal(PromptForms.All, (registration with { RefusedForms = default }).AcceptedForms);
        Assert.Equal(PromptForms.Text | PromptForms.Messages, (registration with { RefusedForms = PromptForms.TokenIds | PromptForms.Length }).AcceptedForms);
    }

    [Fact]
    public void ReplicaSnapshot_WithoutRefusedForms_TakesEveryForm()
    {
        var snapshot = new ReplicaSnapshot("r", "n", "a", "H100", true, 8, 10_000, 0, 10_000, 0, 0, []);

        Assert.Equal(PromptForms.All, (snapshot with { RefusedForms = default }).AcceptedForms);
    }
}
