using Google.Protobuf;
using Google.Protobuf.Collections;
using Scheduler.Protos.V1;

namespace Scheduler.Silo.Nodes;

/// <summary>
/// Packs the commands queued for one worker into as few <see cref="ExecuteCommand"/> messages as keep their meaning:
/// each message is a gRPC write, an HTTP/2 frame and a flush (Grpc.Net.Client flushes every request-stream write and
/// ignores <c>WriteFlags.BufferHint</c>), and under load admissions queue up by the tens. The wire format stays the one
/// every worker already reads: an admission, cancellation or preemption of several sequences.
/// </summary>
/// <remarks>
/// A replica's commands keep their order: a command joins the message its replica got last only when that message is
/// of the same kind, so a preemption stays ahead of the admission that takes its room and a cancellation after the
/// admission of its job. Commands of different replicas go to different engines and may pass each other. A merged
/// message stays within a byte budget (a worker refuses messages over 4 MB by default, and ends the stream); a single
/// command over the budget is split by its sequences.
/// </remarks>
internal static class CommandPacking
{
    /// <summary>About the most bytes a packed message holds, well under a worker's default 4 MB receive limit.</summary>
    public const int MaxMessageBytes = 1 << 20;

    /// <summary>The messages to write for <paramref name="queued"/>, in writing order.</summary>
    public static List<ExecuteCommand> Pack(IReadOnlyList<ExecuteCommand> queued, int maxMessageBytes = MaxMessageBytes)
    {
        var packed = new List<ExecuteCommand>(queued.Count);
        if (queued.Count == 1 && Size(queued[0]) <= maxMessageBytes)
        {
            packed.Add(queued[0]);
            return packed;
        }

        // The message each replica got last, and about how many bytes it holds.
        var last = new Dictionary<string, (ExecuteCommand Message, int Bytes)>(StringComparer.Ordinal);
        foreach (var command in queued)
        {
            if (ReplicaOf(command) is not { } replicaId)
            {
                // A command of no replica (none today; a node-wide one a later version might add) is a barrier: nothing
                // queued after it may join a message written before it.
                packed.Add(command);
                last.Clear();
                continue;
            }

            var bytes = Size(command);
            if (last.TryGetValue(replicaId, out var open) && open.Message.CommandCase == command.CommandCase && open.Bytes + bytes <= maxMessageBytes)
            {
                MoveItems(command, open.Message);
                last[replicaId] = (open.Message, open.Bytes + bytes);
            }
            else if (bytes <= maxMessageBytes)
            {
                packed.Add(command);
                last[replicaId] = (command, bytes);
            }
            else
            {
                last[replicaId] = Split(command, maxMessageBytes, packed);
            }
        }

        return packed;
    }

    private static string? ReplicaOf(ExecuteCommand command) => command.CommandCase switch
    {
        ExecuteCommand.CommandOneofCase.Admit => command.Admit.ReplicaId,
        ExecuteCommand.CommandOneofCase.Cancel => command.Cancel.ReplicaId,
        ExecuteCommand.CommandOneofCase.Preempt => command.Preempt.ReplicaId,
        _ => null,
    };

    // Only the items count: the replica id and framing are a few bytes beside the budget.
    private static int Size(ExecuteCommand command) => command.CommandCase switch
    {
        ExecuteCommand.CommandOneofCase.Admit => command.Admit.Sequences.Sum(ItemSize),
        ExecuteCommand.CommandOneofCase.Cancel => command.Cancel.SequenceIds.Sum(ItemSize),
        ExecuteCommand.CommandOneofCase.Preempt => command.Preempt.SequenceIds.Sum(ItemSize),
        _ => command.CalculateSize(),
    };

    private static int ItemSize(SequenceSpec spec) => 1 + CodedOutputStream.ComputeMessageSize(spec);

    private static int ItemSize(string sequenceId) => 1 + CodedOutputStream.ComputeStringSize(sequenceId);

    private static void MoveItems(ExecuteCommand from, ExecuteCommand to)
    {
        switch (from.CommandCase)
        {
            case ExecuteCommand.CommandOneofCase.Admit:
                to.Admit.Sequences.AddRange(from.Admit.Sequences);
                break;
            case ExecuteCommand.CommandOneofCase.Cancel:
                to.Cancel.SequenceIds.AddRange(from.Cancel.SequenceIds);
                break;
            default:
                to.Preempt.SequenceIds.AddRange(from.Preempt.SequenceIds);
                break;
        }
    }

    /// <summary>Adds <paramref name="command"/> to <paramref name="packed"/> as several messages of its kind, each within
    /// the budget or of one item; returns the last.</summary>
    private static (ExecuteCommand Message, int Bytes) Split(ExecuteCommand command, int maxMessageBytes, List<ExecuteCommand> packed) =>
        command.CommandCase switch
        {
            ExecuteCommand.CommandOneofCase.Admit => Split(
                command.Admit.Sequences, ItemSize, maxMessageBytes, packed, () => new ExecuteCommand { Admit = new AdmitBatch { ReplicaId = command.Admit.ReplicaId } }, c => c.Admit.Sequences),
            ExecuteCommand.CommandOneofCase.Cancel => Split(
                command.Cancel.SequenceIds, ItemSize, maxMessageBytes, packed, () => new ExecuteCommand { Cancel = new CancelSequences { ReplicaId = command.Cancel.ReplicaId } }, c => c.Cancel.SequenceIds),
            _ => Split(
                command.Preempt.SequenceIds, ItemSize, maxMessageBytes, packed, () => new ExecuteCommand { Preempt = new PreemptSequences { ReplicaId = command.Preempt.ReplicaId } }, c => c.Preempt.SequenceIds),
        };

    private static (ExecuteCommand Message, int Bytes) Split<T>(
        RepeatedField<T> items, Func<T, int> itemSize, int maxMessageBytes, List<ExecuteCommand> packed, Func<ExecuteCommand> empty, Func<ExecuteCommand, RepeatedField<T>> itemsOf)
    {
        var message = empty();
        var bytes = 0;
        foreach (var item in items)
        {
            var size = itemSize(item);
            if (bytes > 0 && bytes + size > maxMessageBytes)
            {
                packed.Add(message);
                message = empty();
                bytes = 0;
            }

            itemsOf(message).Add(item);
            bytes += size;
        }

        packed.Add(message);
        return (message, bytes);
    }
}
