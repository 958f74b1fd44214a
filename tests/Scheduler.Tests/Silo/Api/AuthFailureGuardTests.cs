using Grpc.Core;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Scheduler.Silo.Api;

namespace Scheduler.Tests.Silo.Api;

public sealed class AuthFailureGuardTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));

    [Fact]
    public void ThrowIfBlocked_AfterLimitFailures_RefusesWithRetryHintUntilTheWindowEnds()
    {
        var guard = Guard(limit: 3, windowSeconds: 60);
        for (var i = 0; i < 3; i++)
        {
            Check(guard, "10.0.0.1");
            guard.Failed("10.0.0.1");
            _time.Advance(TimeSpan.FromSeconds(10));
        }

        var refused = Assert.Throws<RpcException>(() => Check(guard, "10.0.0.1"));
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Equal(30_000, SchedulerErrors.RetryAfterMs(refused));
        Check(guard, "10.0.0.2");

        _time.Advance(TimeSpan.FromSeconds(30));
        Check(guard, "10.0.0.1");

        // A new window starts with the next failure.
        guard.Failed("10.0.0.1");
        Check(guard, "10.0.0.1");
    }

    [Fact]
    public void Failed_ManyPeers_TracksAtMostTheBoundAndDropsEndedWindows()
    {
        var guard = Guard(limit: 1, windowSeconds: 60);
        for (var i = 0; i < AuthFailureGuard.MaxPeers + 100; i++)
        {
            guard.Failed($"peer-{i}");
        }

        Assert.Equal(AuthFailureGuard.MaxPeers, guard.TrackedPeers);
        Assert.Throws<RpcException>(() => Check(guard, "peer-0"));

        _time.Advance(TimeSpan.FromSeconds(61));
        guard.Failed("late-peer");
        Assert.Equal(1, guard.TrackedPeers);
        Assert.Throws<RpcException>(() => Check(guard, "late-peer"));
    }

    [Fact]
    public void Failed_LimitZero_NeverBlocks()
    {
        var guard = Guard(limit: 0, windowSeconds: 60);
        for (var i = 0; i < 100; i++)
        {
            guard.Failed("10.0.0.1");
        }

        Check(guard, "10.0.0.1");
        Assert.Equal(0, guard.TrackedPeers);
    }

    [Fact]
    public void ThrowIfBlocked_BlockedPeerPresentingARecognisedKey_IsLetThrough()
    {
        var guard = Guard(limit: 1, windowSeconds: 60);
        guard.Failed("10.0.0.1");

        Assert.Throws<RpcException>(() => Check(guard, "10.0.0.1"));
        var asked = 0;
        guard.ThrowIfBlocked("10.0.0.1", n => { asked++; return true; }, 0);
        Assert.Equal(1, asked);

        // An address that is not blocked is never asked about its key.
        guard.ThrowIfBlocked("10.0.0.2", n => { asked++; return false; }, 0);
        Assert.Equal(1, asked);
    }

    private static void Check(AuthFailureGuard guard, string peer) => guard.ThrowIfBlocked(peer, static _ => false, 0);

    private AuthFailureGuard Guard(int limit, int windowSeconds) => new(
        new StaticOptionsMonitor(new ApiOptions { AuthFailureLimit = limit, AuthFailureWindowSeconds = windowSeconds }), _time);

    private sealed class StaticOptionsMonitor(ApiOptions value) : IOptionsMonitor<ApiOptions>
    {
        public ApiOptions CurrentValue => value;

        public ApiOptions Get(string? name) => value;

        public IDisposable? OnChange(Action<ApiOptions, string?> listener) => null;
    }
}
