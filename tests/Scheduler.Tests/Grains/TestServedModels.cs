using System.Collections.Concurrent;
using Scheduler.Grains.Tenants;

namespace Scheduler.Tests.Grains;

/// <summary>The grain tests' <see cref="IServedModels"/>: each test makes its own model, so the set grows as tests add
/// theirs, where a silo's is its configuration.</summary>
internal sealed class TestServedModels : IServedModels
{
    private readonly ConcurrentDictionary<string, byte> _names = new(StringComparer.Ordinal);

    public IReadOnlyCollection<string> Names => [.. _names.Keys];

    public void Add(string model) => _names.TryAdd(model, 0);
}
