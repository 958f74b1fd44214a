using StackExchange.Redis;

namespace Scheduler.Silo.Persistence;

/// <summary>
/// A key every silo of a service shares in Redis, holding the id of the store's current life: the first silo to find it
/// missing writes a new one, and every silo remembers the one it found when it started. Redis losing its data (a restart
/// without persistence, a FLUSHALL) takes the key with it, so a silo that reads the key back missing, or holding another
/// life's id, knows that its cluster's membership table and the state its grains hold in memory belong to data that is
/// gone (<see cref="StoreLossWatch"/>).
/// </summary>
/// <remarks>Why a key of our own rather than Orleans' membership table: the table's layout is Orleans' business and may
/// change with an upgrade, while this key means exactly "the data the silos started on is still there".</remarks>
internal sealed class StoreMarker(Func<IConnectionMultiplexer> redis, string serviceId)
{
    // Reads the life's id, writing a new one if there is none, in one step: two silos starting on an empty store agree.
    private const string EstablishScript =
        """
        local life = redis.call('GET', KEYS[1])
        if not life then
            redis.call('SET', KEYS[1], ARGV[1])
            return ARGV[1]
        end
        return life
        """;

    private readonly Lock _gate = new();
    private Task<string>? _established;

    /// <summary>The key; under the service's hash tag like the job journal's keys.</summary>
    public string Key { get; } = $"{{{serviceId}}}/store-marker";

    /// <summary>The life this silo started on (the first call reads or writes it; later calls get the same answer).</summary>
    public Task<string> Establish()
    {
        lock (_gate)
        {
            // A failed attempt (Redis unreachable) is not remembered: the next call tries again.
            if (_established is null || _established.IsFaulted || _established.IsCanceled)
            {
                _established = EstablishCore();
            }

            return _established;
        }
    }

    private async Task<string> EstablishCore()
    {
        var life = await redis().GetDatabase().ScriptEvaluateAsync(EstablishScript, [Key], [Guid.NewGuid().ToString("N")]);
        return (string?)life ?? throw new InvalidOperationException($"Redis returned no value for {Key}");
    }

    /// <summary>Whether the store still holds the life this silo started on. Throws what Redis throws when it does not
    /// answer: an outage is not a loss.</summary>
    public async Task<StoreCheck> Check()
    {
        var started = await Establish();
        var now = (string?)await redis().GetDatabase().StringGetAsync(Key);
        return new StoreCheck(started, now);
    }
}

/// <summary>What <see cref="StoreMarker.Check"/> found: the life the silo started on and the one Redis holds now (null:
/// the key is gone).</summary>
internal readonly record struct StoreCheck(string StartedOn, string? Now)
{
    public bool IsLost => Now != StartedOn;
}
