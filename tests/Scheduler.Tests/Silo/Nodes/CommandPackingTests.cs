using CsCheck;
using Scheduler.Protos.V1;
using Scheduler.Silo.Nodes;

namespace Scheduler.Tests.Silo.Nodes;

public sealed class CommandPackingTests
{
    [Fact]
    public void Pack_AdmissionsToTwoReplicasInterleaved_OneMessagePerReplicaInAdmissionOrder()
    {
        var packed = CommandPacking.Pack([Admit("r0", "a"), Admit("r1", "b"), Admit("r0", "c", "d"), Admit("r1", "e")]);

        Assert.Equal(["admit r0: a c d", "admit r1: b e"], packed.Select(Show));
    }

    [Fact]
    public void Pack_PreemptionsAndAdmissionsOfOneReplica_KeepTheirOrder()
    {
        // Each preemption frees the room of the admission after it: moving the second ahead of the first admission
        // would stop a sequence before the engine has it.
        var packed = CommandPacking.Pack([Preempt("r0", "v1"), Admit("r0", "a"), Preempt("r0", "a"), Admit("r0", "b"), Admit("r0", "c")]);

        Assert.Equal(["preempt r0: v1", "admit r0: a", "preempt r0: a", "admit r0: b c"], packed.Select(Show));
    }

    [Fact]
    public void Pack_CancelAfterTheAdmissionOfItsJob_StaysAfterIt()
    {
        var packed = CommandPacking.Pack([Admit("r0", "a"), Cancel("r0", "a"), Admit("r0", "b"), Cancel("r0", "c"), Cancel("r0", "b")]);

        Assert.Equal(["admit r0: a", "cancel r0: a", "admit r0: b", "cancel r0: c b"], packed.Select(Show));
    }

    [Fact]
    public void Pack_OtherReplicasCommandsBetween_StillMergeAReplicasRunOfOneKind()
    {
        var packed = CommandPacking.Pack([Preempt("r0", "v"), Admit("r1", "a"), Preempt("r0", "w"), Admit("r0", "b"), Admit("r1", "c")]);

        Assert.Equal(["preempt r0: v w", "admit r1: a c", "admit r0: b"], packed.Select(Show));
    }

    [Fact]
    public void Pack_MergeBeyondTheBudget_StartsANewMessage()
    {
        var budget = 3 * SequenceBytes("a");

        var packed = CommandPacking.Pack([Admit("r0", "a", "b"), Admit("r0", "c"), Admit("r0", "d")], budget);

        Assert.Equal(["admit r0: a b c", "admit r0: d"], packed.Select(Show));
    }

    [Fact]
    public void Pack_OneAdmissionOverTheBudget_IsSplitInOrderAndTheNextJoinsItsLastPart()
    {
        var budget = 2 * SequenceBytes("a");

        var packed = CommandPacking.Pack([Admit("r0", "a", "b", "c", "d", "e"), Admit("r0", "f")], budget);

        Assert.Equal(["admit r0: a b", "admit r0: c d", "admit r0: e f"], packed.Select(Show));
    }

    [Fact]
    public void Pack_ASequenceOverTheBudgetAlone_GoesInAMessageOfItsOwn()
    {
        var big = Admit("r0", "a");
        big.Admit.Sequences[0].Prompt = new string('x', 300);

        var packed = CommandPacking.Pack([Admit("r0", "z"), big, Admit("r0", "b")], maxMessageBytes: 100);

        Assert.Equal(["admit r0: z", "admit r0: a", "admit r0: b"], packed.Select(Show));
    }

    [Fact]
    public void Pack_AnyQueue_KeepsEveryReplicasCommandsInOrderAndNeverWritesMoreMessages()
    {
        var command = Gen.Select(Gen.Int[0, 2], Gen.Int[0, 2], Gen.Int[0, 9].Array[1, 3], (kind, replica, ids) =>
        {
            var replicaId = "r" + replica;
            var sequenceIds = ids.Select(i => "s" + i).ToArray();
            return kind switch
            {
                0 => Admit(replicaId, sequenceIds),
                1 => Cancel(replicaId, sequenceIds),
                _ => Preempt(replicaId, sequenceIds),
            };
        });

        command.List[1, 30].Sample(queued =>
        {
            var expected = PerReplica(queued.Select(c => c.Clone()));

            var packed = CommandPacking.Pack(queued);

            Assert.Equal(expected, PerReplica(packed));
            Assert.True(packed.Count <= queued.Count);
        });
    }

    // What each replica's engine is told, item by item and in order: "admit a", "cancel a", ...
    private static Dictionary<string, List<string>> PerReplica(IEnumerable<ExecuteCommand> commands)
    {
        var items = new Dictionary<string, List<string>>();
        foreach (var command in commands)
        {
            var (kind, replica, ids) = Parts(command);
            if (!items.TryGetValue(replica, out var list))
            {
                items[replica] = list = [];
            }

            list.AddRange(ids.Select(id => kind + " " + id));
        }

        return items;
    }

    [Fact]
    public void Pack_ACommandOfNoReplicaBetween_IsABarrier_NothingAfterItJoinsAMessageBeforeIt()
    {
        var packed = CommandPacking.Pack([Admit("r0", "a"), new ExecuteCommand(), Admit("r0", "b")]);

        Assert.Equal(["admit r0: a", "none", "admit r0: b"], packed.Select(Show));
    }

    private static string Show(ExecuteCommand command)
    {
        if (command.CommandCase == ExecuteCommand.CommandOneofCase.None)
        {
            return "none";
        }

        var (kind, replica, ids) = Parts(command);
        return $"{kind} {replica}: {string.Join(' ', ids)}";
    }

    private static (string Kind, string Replica, IEnumerable<string> Ids) Parts(ExecuteCommand command) => command.CommandCase switch
    {
        ExecuteCommand.CommandOneofCase.Admit => ("admit", command.Admit.ReplicaId, command.Admit.Sequences.Select(s => s.SequenceId)),
        ExecuteCommand.CommandOneofCase.Cancel => ("cancel", command.Cancel.ReplicaId, command.Cancel.SequenceIds),
        _ => ("preempt", command.Preempt.ReplicaId, command.Preempt.SequenceIds),
    };

    private static int SequenceBytes(string id) => Admit("r", id).Admit.Sequences[0].CalculateSize() + 2;

    internal static ExecuteCommand Admit(string replicaId, params string[] ids)
    {
        var batch = new AdmitBatch { ReplicaId = replicaId };
        batch.Sequences.AddRange(ids.Select(id => new SequenceSpec { SequenceId = id, PromptTokens = 128, MaxTokens = 16 }));
        return new ExecuteCommand { Admit = batch };
    }

    internal static ExecuteCommand Cancel(string replicaId, params string[] ids)
    {
        var cancel = new CancelSequences { ReplicaId = replicaId };
        cancel.SequenceIds.AddRange(ids);
        return new ExecuteCommand { Cancel = cancel };
    }

    internal static ExecuteCommand Preempt(string replicaId, params string[] ids)
    {
        var preempt = new PreemptSequences { ReplicaId = replicaId };
        preempt.SequenceIds.AddRange(ids);
        return new ExecuteCommand { Preempt = preempt };
    }
}
