using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Options;

namespace Scheduler.Silo.Api;

/// <summary>
/// Slows down guessing: a peer address that failed to authenticate <see cref="ApiOptions.AuthFailureLimit"/> times
/// within <see cref="ApiOptions.AuthFailureWindowSeconds"/> (counted from its first failure) is refused with
/// RESOURCE_EXHAUSTED and a retry hint until that window ends, before any key is looked up — except a key the silo
/// already knows to be valid. Shared by the gRPC and the
/// OpenAI front doors of a silo. Memory is bounded: at most <see cref="MaxPeers"/> addresses are tracked; when that
/// many are, ended windows are dropped, and a new address beyond them is not tracked until room frees.
/// </summary>
internal sealed class AuthFailureGuard(IOptionsMonitor<ApiOptions> options, TimeProvider time)
{
    public const int MaxPeers = 10_000;
    private readonly ConcurrentDictionary<string, Window> _peers = new(StringComparer.Ordinal);

    /// <summary>The address failures are counted by: the TCP peer, without its port (a client opens new
    /// connections, each from a new port).</summary>
    public static string PeerOf(IPAddress? address) => address?.ToString() ?? "unknown";

    /// <summary>Throws RESOURCE_EXHAUSTED when <paramref name="peer"/> has failed too often in its window, unless
    /// <paramref name="recognised"/> says the key it presents is one this silo already knows to be valid: many clients
    /// can share one address (a NAT, an ingress, a sidecar), and one of them guessing must not lock out the others,
    /// whose keys need no lookup. Asked only of a blocked peer, so the usual call costs one dictionary read.</summary>
    public void ThrowIfBlocked<TState>(string peer, Func<TState, bool> recognised, TState state)
    {
        var o = options.CurrentValue;
        if (o.AuthFailureLimit <= 0 || !_peers.TryGetValue(peer, out var window))
        {
            return;
        }

        var now = time.GetUtcNow();
        int failures;
        DateTimeOffset ends;
        lock (window)
        {
            failures = window.Failures;
            ends = window.Start + TimeSpan.FromSeconds(o.AuthFailureWindowSeconds);
        }

        if (failures >= o.AuthFailureLimit && now < ends && !recognised(state))
        {
            throw SchedulerErrors.ResourceExhausted(
                $"too many failed authentications from this address ({failures} within {o.AuthFailureWindowSeconds} s)", ends - now);
        }
    }

    /// <summary>Counts a failed authentication of <paramref name="peer"/>.</summary>
    public void Failed(string peer)
    {
        var o = options.CurrentValue;
        if (o.AuthFailureLimit <= 0)
        {
            return;
        }

        var now = time.GetUtcNow();
        var length = TimeSpan.FromSeconds(o.AuthFailureWindowSeconds);
        if (!_peers.TryGetValue(peer, out var window))
        {
            if (_peers.Count >= MaxPeers)
            {
                DropEnded(now, length);
                if (_peers.Count >= MaxPeers)
                {
                    return;
                }
            }

            window = _peers.GetOrAdd(peer, _ => new Window(now));
        }

        lock (window)
        {
            if (now >= window.Start + length)
            {
                window.Start = now;
                window.Failures = 0;
            }

            window.Failures++;
        }
    }

    /// <summary>Addresses tracked now (for tests of the bound).</summary>
    public int TrackedPeers => _peers.Count;

    private void DropEnded(DateTimeOffset now, TimeSpan length)
    {
        foreach (var (peer, window) in _peers)
        {
            if (now >= window.Start + length)
            {
                _peers.TryRemove(peer, out _);
            }
        }
    }

    private sealed class Window(DateTimeOffset start)
    {
        public DateTimeOffset Start { get; set; } = start;

        public int Failures { get; set; }
    }
}
