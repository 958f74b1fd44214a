using Scheduler.Abstractions.Placement;

namespace Scheduler.Grains.Placement;

/// <summary>Counts a model's jobs and those that met their TTFT objective in one-second buckets over the last minute:
/// constant memory however many jobs finish.</summary>
internal sealed class TtftWindowGrain(TimeProvider time) : Grain, ITtftWindowGrain
{
    private const int Seconds = 60;
    private readonly (long Second, int Jobs, int Met)[] _buckets = new (long, int, int)[Seconds];

    public Task Record(DateTimeOffset at, bool met)
    {
        var second = at.ToUnixTimeSeconds();
        if (second <= time.GetUtcNow().ToUnixTimeSeconds() - Seconds)
        {
            return Task.CompletedTask;
        }

        ref var bucket = ref _buckets[(int)(second % Seconds)];
        if (bucket.Second != second)
        {
            bucket = (second, 0, 0);
        }

        bucket.Jobs++;
        bucket.Met += met ? 1 : 0;
        return Task.CompletedTask;
    }

    public Task<TtftAttainment> Get()
    {
        var oldest = time.GetUtcNow().ToUnixTimeSeconds() - Seconds;
        int jobs = 0, met = 0;
        foreach (var bucket in _buckets)
        {
            if (bucket.Second > oldest)
            {
                jobs += bucket.Jobs;
                met += bucket.Met;
            }
        }

        return Task.FromResult(new TtftAttainment(jobs, met));
    }
}
