using System.Collections.Immutable;
using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Runtime;
using Orleans.Storage;
using Scheduler.Grains;

namespace Scheduler.Tests.Grains;

public sealed class OwnedStateWritesTests
{
    private static readonly SiloAddress Local = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11111), 1);

    [Fact]
    public async Task Write_NoConflict_WritesWithoutReadingTheMembershipTable()
    {
        var membership = new TableMembership(local: SiloStatus.Active, table: SiloStatus.Active);
        var state = new VersionedState("mine");

        await Writes(membership).Write(state);

        Assert.Equal(("mine", 1), state.Stored);
        Assert.Equal(0, membership.Reads);
    }

    [Fact]
    public async Task Write_ConflictWhileThisSiloIsAMember_WritesOverTheStoredVersion()
    {
        // A write that timed out in a Redis stall and was applied later: storage is a version ahead of the activation.
        var membership = new TableMembership(local: SiloStatus.Active, table: SiloStatus.Active);
        var state = new VersionedState("mine");
        state.StoreBehindTheActivation("my earlier write");

        await Writes(membership).Write(state);

        Assert.Equal(("mine", 2), state.Stored);
        Assert.Equal(1, membership.Reads);
    }

    [Fact]
    public async Task Write_ConflictOnASiloTheTableListsAsDead_IsRefused_AndStorageKeepsTheSurvivorsState()
    {
        // Frozen past its death: the silo still sees itself active until it reads the table, where the survivors
        // declared it dead and activated its grain again, which wrote newer state.
        var membership = new TableMembership(local: SiloStatus.Active, table: SiloStatus.Dead);
        var state = new VersionedState("stale, from before the freeze");
        state.StoreBehindTheActivation("the survivor's");

        await Assert.ThrowsAsync<InconsistentStateException>(() => Writes(membership).Write(state));

        Assert.Equal(("the survivor's", 1), state.Stored);
        Assert.Equal(1, membership.Reads);
    }

    [Theory]
    [InlineData(SiloStatus.Active, true)]
    [InlineData(SiloStatus.Dead, false)]
    public async Task Write_ConflictAndTheTableCannotBeRead_TheSilosOwnViewDecides(SiloStatus local, bool writtenOver)
    {
        var membership = new TableMembership(local, table: null);
        var state = new VersionedState("mine");
        state.StoreBehindTheActivation("stored");

        var write = Writes(membership).Write(state);

        if (writtenOver)
        {
            await write;
            Assert.Equal(("mine", 2), state.Stored);
        }
        else
        {
            await Assert.ThrowsAsync<InconsistentStateException>(() => write);
            Assert.Equal(("stored", 1), state.Stored);
        }
    }

    private static OwnedStateWrites Writes(IClusterMembershipService membership) =>
        new(membership, new LocalSilo(), NullLogger<OwnedStateWrites>.Instance);

    private sealed class LocalSilo : ILocalSiloDetails
    {
        public string Name => "local";
        public string ClusterId => "test";
        public string DnsHostName => "localhost";
        public SiloAddress SiloAddress => Local;
        public SiloAddress GatewayAddress => Local;
    }

    /// <summary>A membership whose table says <c>table</c> about the local silo once read (null: the read fails),
    /// while the silo's own view says <c>local</c> until then.</summary>
    private sealed class TableMembership(SiloStatus local, SiloStatus? table) : IClusterMembershipService
    {
        private SiloStatus _status = local;

        public int Reads { get; private set; }

        public ClusterMembershipSnapshot CurrentSnapshot => new(
            ImmutableDictionary<SiloAddress, ClusterMember>.Empty.Add(Local, new ClusterMember(Local, _status, "local")),
            new MembershipVersion(1));

        public IAsyncEnumerable<ClusterMembershipSnapshot> MembershipUpdates => AsyncEnumerable.Empty<ClusterMembershipSnapshot>();

        public ValueTask Refresh(MembershipVersion minimumVersion = default, CancellationToken cancellationToken = default)
        {
            Reads++;
            if (table is not { } read)
            {
                throw new TimeoutException("the membership table did not answer");
            }

            _status = read;
            return ValueTask.CompletedTask;
        }

        public Task<bool> TryKill(SiloAddress siloAddress) => throw new NotSupportedException();
    }

    /// <summary>An activation's state over a versioned store that refuses a write from a stale version.</summary>
    private sealed class VersionedState(string held) : IPersistentState<string>
    {
        private int _storedVersion;
        private string? _storedValue;

        public (string? Value, int Version) Stored => (_storedValue, _storedVersion);

        public string State { get; set; } = held;

        public string? Etag { get; private set; } = "0";

        public bool RecordExists => _storedVersion > 0;

        /// <summary>Another write landed after the activation last read or wrote.</summary>
        public void StoreBehindTheActivation(string value) => (_storedValue, _storedVersion) = (value, _storedVersion + 1);

        public Task WriteStateAsync()
        {
            if (Etag != _storedVersion.ToString(System.Globalization.CultureInfo.InvariantCulture))
            {
                throw new InconsistentStateException("version conflict", Etag, _storedVersion.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            (_storedValue, _storedVersion) = (State, _storedVersion + 1);
            Etag = _storedVersion.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Task.CompletedTask;
        }

        public Task ReadStateAsync()
        {
            State = _storedValue ?? "";
            Etag = _storedVersion.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Task.CompletedTask;
        }

        public Task ClearStateAsync() => throw new NotSupportedException();
    }
}
