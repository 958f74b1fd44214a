using Orleans.Storage;

namespace Scheduler.Silo.Persistence;

/// <summary>
/// Grain state in this process's memory, kept serialized (so a grain never shares an object with its stored copy),
/// with the same ETag checks as Orleans' memory storage: a write must name the version it read.
/// </summary>
/// <remarks>
/// Why not Orleans' <c>MemoryGrainStorage</c>: it keeps state in storage grains, so every read and write is a grain call
/// (a message, its dispatch, and a turn of a storage grain that all activations share) — one for each job record's
/// activation on the embedded default's submission path. A single-silo cluster (the only one memory storage serves
/// here) needs no grain between an activation and its state.
/// </remarks>
internal sealed class SiloMemoryGrainStorage(IGrainStorageSerializer serializer) : IGrainStorage
{
    private readonly Dictionary<(string StateName, GrainId GrainId), Stored> _states = [];
    private readonly Lock _gate = new();
    private long _version;

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        Stored? stored;
        lock (_gate)
        {
            _states.TryGetValue((stateName, grainId), out stored);
        }

        grainState.State = stored is null ? Activator.CreateInstance<T>() : serializer.Deserialize<T>(stored.Data);
        grainState.ETag = stored?.ETag;
        grainState.RecordExists = stored is not null;
        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var data = serializer.Serialize(grainState.State);
        lock (_gate)
        {
            var key = (stateName, grainId);
            ThrowIfStale(key, grainState.ETag);
            var etag = (++_version).ToString(System.Globalization.CultureInfo.InvariantCulture);
            _states[key] = new Stored(data, etag);
            grainState.ETag = etag;
        }

        grainState.RecordExists = true;
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        lock (_gate)
        {
            var key = (stateName, grainId);
            ThrowIfStale(key, grainState.ETag);
            _states.Remove(key);
        }

        grainState.ETag = null;
        grainState.RecordExists = false;
        grainState.State = Activator.CreateInstance<T>();
        return Task.CompletedTask;
    }

    /// <summary>A write or clear based on a version older than the stored one would lose the newer: refused, as Orleans'
    /// storages refuse it. Nothing stored yet accepts any version.</summary>
    private void ThrowIfStale((string StateName, GrainId GrainId) key, string? etag)
    {
        if (_states.TryGetValue(key, out var stored) && etag != stored.ETag && etag != "*")
        {
            throw new InconsistentStateException($"The stored state of {key.GrainId} ({key.StateName}) changed since it was read", stored.ETag, etag);
        }
    }

    private sealed record Stored(BinaryData Data, string ETag);
}
