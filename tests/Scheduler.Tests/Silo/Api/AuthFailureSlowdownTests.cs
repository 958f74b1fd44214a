using System.Net;
using System.Net.Http.Headers;
using Grpc.Core;
using Scheduler.Silo.Api;

namespace Scheduler.Tests.Silo.Api;

/// <summary>A peer that keeps presenting bad keys is refused before any key lookup, on gRPC and the OpenAI API alike;
/// keys the silo already knows to be valid still pass from that address.</summary>
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
        // A client behind the same address whose key this silo has already checked, and a valid key it never saw.
        using var good = silo.Client(SecuredSilo.ConfiguredKey);
        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => good.GetAsync("no-such-job"))).StatusCode);
        using var admin = silo.Admin();
        var unseen = (await admin.CreateApiKeyAsync(SecuredSilo.Tenant)).Secret;

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

        // Refused before any lookup: a key the silo never checked waits out the window, however valid.
        using var unseenClient = silo.Client(unseen);
        Assert.Equal(StatusCode.ResourceExhausted, (await Assert.ThrowsAsync<RpcException>(() => unseenClient.GetAsync("no-such-job"))).StatusCode);
        using var fourth = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        fourth.Headers.Authorization = new AuthenticationHeaderValue("Bearer", unseen);
        var response = await http.SendAsync(fourth);
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.InRange(response.Headers.RetryAfter?.Delta?.TotalSeconds ?? 0, 50, 60);

        // The guessing of one client behind a shared address (a NAT, an ingress) does not lock out the others: a key
        // the silo found valid before needs no lookup and passes, on both front doors.
        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => good.GetAsync("no-such-job"))).StatusCode);
        using var fifth = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        fifth.Headers.Authorization = new AuthenticationHeaderValue("Bearer", SecuredSilo.ConfiguredKey);
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(fifth)).StatusCode);
    }
}
