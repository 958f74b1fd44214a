using System.Diagnostics.Metrics;
using Scheduler.Silo.Telemetry;

namespace Scheduler.Tests;

/// <summary>Listens to one of the scheduler's counters (every silo in this process) for one tenant's measurements,
/// added up by the value of one of their tags.</summary>
internal sealed class TenantCounter : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly Dictionary<string, long> _byTag = [];

    /// <param name="instrument">The counter, e.g. <see cref="SemanticConventions.JobsFinished"/>.</param>
    /// <param name="tenant">The tenant whose measurements count.</param>
    /// <param name="tag">The tag the counts are kept apart by, e.g. <see cref="SemanticConventions.Outcome"/>.</param>
    public TenantCounter(string instrument, string tenant, string tag)
    {
        _listener.InstrumentPublished = (published, listener) =>
        {
            if (published.Meter.Name == SchedulerTelemetry.Name && published.Name == instrument)
            {
                listener.EnableMeasurementEvents(published);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            string? byValue = null;
            var ours = false;
            foreach (var pair in tags)
            {
                ours |= pair.Key == SemanticConventions.Tenant && (string?)pair.Value == tenant;
                byValue = pair.Key == tag ? (string?)pair.Value : byValue;
            }

            if (ours)
            {
                lock (_byTag)
                {
                    _byTag[byValue!] = _byTag.GetValueOrDefault(byValue!) + value;
                }
            }
        });
        _listener.Start();
    }

    /// <summary>The counts so far, by the tag's value in ordinal order.</summary>
    public (string Value, long Count)[] ByTag()
    {
        lock (_byTag)
        {
            return [.. _byTag.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => (p.Key, p.Value))];
        }
    }

    /// <summary>The count so far, whatever the tag's value.</summary>
    public long Total()
    {
        lock (_byTag)
        {
            return _byTag.Values.Sum();
        }
    }

    public void Dispose() => _listener.Dispose();
}
