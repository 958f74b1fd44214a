using Scheduler.Grains.Tenants;
using static Scheduler.Tests.Grains.GrainTestKit;

namespace Scheduler.Tests.Grains.Tenants;

public sealed class RequestFingerprintTests
{
    [Fact]
    public void Of_ADefaultMaxTokens_DiffersFromTheSameNumberSent_AndFromAnotherRequest()
    {
        // A request without max_tokens is fitted to its tenant's quota; one that sent the same number is refused when it
        // does not fit: with one idempotency key they must not be taken for each other.
        var sent = Request("m", maxTokens: 512);
        var defaulted = sent with { FitMaxTokens = true };

        Assert.NotEqual(RequestFingerprint.Of(sent), RequestFingerprint.Of(defaulted));
        Assert.Equal(RequestFingerprint.Of(defaulted), RequestFingerprint.Of(Request("m", maxTokens: 512) with { FitMaxTokens = true }));
        Assert.NotEqual(RequestFingerprint.Of(sent), RequestFingerprint.Of(Request("m", maxTokens: 511)));
    }

    [Fact]
    public void Of_ADefaultMaxTokens_IsTheSameRequestWhateverItWasFittedTo()
    {
        // The front door fits a default to the largest replica's KV cache: a retry after the fleet changed got another
        // number, and its own idempotency key answered ALREADY_EXISTS.
        Assert.Equal(
            RequestFingerprint.Of(Request("m", maxTokens: 512) with { FitMaxTokens = true }),
            RequestFingerprint.Of(Request("m", maxTokens: 511) with { FitMaxTokens = true }));
    }
}
