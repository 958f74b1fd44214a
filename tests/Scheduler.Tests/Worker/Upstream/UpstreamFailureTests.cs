using System.Net;
using System.Text;
using Scheduler.Worker.Engines.Upstream;

namespace Scheduler.Tests.Worker.Upstream;

public sealed class UpstreamFailureTests
{
    [Fact]
    public async Task FromResponse_ALongBodyCutInsideAnEmoji_KeepsWholeCharactersOnly()
    {
        // The cut at 500 characters fell between an emoji's two UTF-16 halves: the job's error, as its client read it,
        // ended in U+FFFD.
        var body = new string('a', 499) + "😀 and more";
        using var response = new HttpResponseMessage(HttpStatusCode.BadRequest)
        {
            Content = new StringContent(body, Encoding.UTF8, "text/plain"),
            RequestMessage = new HttpRequestMessage(HttpMethod.Post, "http://upstream.test/v1/completions"),
        };

        var failure = await UpstreamFailure.FromResponseAsync(response, TimeProvider.System, CancellationToken.None);

        Assert.Equal(UpstreamFailureKind.Refused, failure.Kind);
        Assert.EndsWith(new string('a', 499) + "…", failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(failure.Message, char.IsSurrogate);
    }
}
