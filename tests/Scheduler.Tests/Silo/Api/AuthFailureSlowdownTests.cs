using System.Net;
using System.Net.Http.Headers;
using Grpc.Core;
using Scheduler.Silo.Api;

namespace Scheduler.Tests.Silo.Api;

/// <summary>A peer that keeps presenting bad keys is refused before any key lookup, on gRPC and the OpenAI API alike.</summary>
public sealed class AuthFailureSlowdownTests
{
    [Fact]
    public async Task BadKeys_FromOnePeer_AreRefusedWithRetryHintOnBothFrontDoors()
    {
        var silo = new SecuredSilo(["--Scheduler:AuthFailureLimit=3", "--Scheduler:AuthFailureWindowSeconds=60"]);
        await silo.InitializeAsync();
        try
        {
            await AssertSlowedDown(silo);
        }
        finally
        {
            await silo.DisposeAsync();
        }
    }

    private static async Task AssertSlowedDown(SecuredSilo silo)
    {
        using var bad = silo.Client("not-a-key-at-all");
        for (var i = 0; i < 2; i++)
        {
            var e = await Assert.ThrowsAsync<RpcException>(() => bad.GetAsync("no-such-job"));
            Assert.Equal(StatusCode.Unauthenticated, e.StatusCode);
        }

        // The third failure comes through the OpenAI API: the two front doors count together.
        using var http = new HttpClient { BaseAddress = new Uri(silo.OpenAiAddress) };
        using var third = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        third.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "still-not-a-key");
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(third)).StatusCode);

        var refused = await Assert.ThrowsAsync<RpcException>(() => bad.GetAsync("no-such-job"));
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.InRange(SchedulerErrors.RetryAfterMs(refused) ?? 0, 50_000, 60_000);

        // Refused before any lookup: a valid key from the same address waits out the window too.
        using var good = silo.Client(SecuredSilo.ConfiguredKey);
        Assert.Equal(StatusCode.ResourceExhausted, (await Assert.ThrowsAsync<RpcException>(() => good.GetAsync("no-such-job"))).StatusCode);

        using var fourth = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        fourth.Headers.Authorization = new AuthenticationHeaderValue("Bearer", SecuredSilo.ConfiguredKey);
        var response = await http.SendAsync(fourth);
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.InRange(response.Headers.RetryAfter?.Delta?.TotalSeconds ?? 0, 50, 60);
    }
}
