using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.Storage;
using Scheduler.Grains.Tenants;
using Scheduler.Silo.Persistence;

namespace Scheduler.Tests.Silo.Persistence;

public sealed class SiloMemoryGrainStorageTests : IDisposable
{
    private const string StateName = "tenant";
    private static readonly GrainId Job = GrainId.Create("tenant", "tenant-1");

    private readonly ServiceProvider _services = new ServiceCollection().AddSerializer().BuildServiceProvider();
    private readonly SiloMemoryGrainStorage _storage;

    public SiloMemoryGrainStorageTests() =>
        _storage = new SiloMemoryGrainStorage(new OrleansGrainStorageSerializer(_services.GetRequiredService<Serializer>()));

    public void Dispose() => _services.Dispose();

    [Fact]
    public async Task Read_NothingStored_GivesANewStateAndNoRecord()
    {
        var state = new GrainState<TenantState>();

        await _storage.ReadStateAsync(StateName, Job, state);

        Assert.NotNull(state.State);
        Assert.Null(state.State.ApiKeyHash);
        Assert.False(state.RecordExists);
        Assert.Null(state.ETag);
    }

    [Fact]
    public async Task Write_ThenRead_GivesAnEqualCopyNotTheSameObject()
    {
        var written = new GrainState<TenantState>(new TenantState { Exists = true, Weight = 2 });
        await _storage.WriteStateAsync(StateName, Job, written);

        var read = new GrainState<TenantState>();
        await _storage.ReadStateAsync(StateName, Job, read);

        Assert.True(read.RecordExists);
        Assert.Equal(written.ETag, read.ETag);
        Assert.Equal((true, 2.0), (read.State!.Exists, read.State!.Weight));
        Assert.NotSame(written.State, read.State);

        // Changing the activation's object does not change what is stored.
        written.State!.Weight = 5;
        await _storage.ReadStateAsync(StateName, Job, read);
        Assert.Equal(2.0, read.State!.Weight);
    }

    [Fact]
    public async Task Write_FromAStaleRead_IsRefusedAndKeepsTheNewerState()
    {
        var first = new GrainState<TenantState>(new TenantState());
        await _storage.WriteStateAsync(StateName, Job, first);
        var stale = new GrainState<TenantState>();
        await _storage.ReadStateAsync(StateName, Job, stale);
        first.State!.Weight = 1.5;
        await _storage.WriteStateAsync(StateName, Job, first);

        stale.State!.Weight = 9;
        await Assert.ThrowsAsync<InconsistentStateException>(() => _storage.WriteStateAsync(StateName, Job, stale));
        await Assert.ThrowsAsync<InconsistentStateException>(() => _storage.ClearStateAsync(StateName, Job, stale));

        var read = new GrainState<TenantState>();
        await _storage.ReadStateAsync(StateName, Job, read);
        Assert.Equal(1.5, read.State!.Weight);
    }

    [Fact]
    public async Task Clear_RemovesTheRecord_AndOtherStateNamesAreSeparate()
    {
        var job = new GrainState<TenantState>(new TenantState { Weight = 3 });
        await _storage.WriteStateAsync(StateName, Job, job);
        await _storage.WriteStateAsync("other", Job, new GrainState<TenantState>(new TenantState { Weight = 4 }));

        await _storage.ClearStateAsync(StateName, Job, job);

        var read = new GrainState<TenantState>();
        await _storage.ReadStateAsync(StateName, Job, read);
        Assert.False(read.RecordExists);
        await _storage.ReadStateAsync("other", Job, read);
        Assert.Equal(4.0, read.State!.Weight);
    }
}
