using System.Threading.Channels;
using Grpc.Core;
using Scheduler.Protos.V1;

namespace Scheduler.Silo.Nodes;

/// <summary>
/// The commands waiting to go to one worker node, and the single loop that writes them (gRPC allows one write at a
/// time; admissions come from every placement's turn). Whatever queued up while the loop was writing or waiting for a
/// thread goes out packed (<see cref="CommandPacking"/>): tens of admissions in a few messages instead of a write and a
/// flush each.
/// </summary>
internal sealed class OutgoingCommands
{
    // How many queued commands one pass takes at most, so a flood of them cannot hold back the first one's write
    // while the rest are read and packed.
    private const int MaxCommandsPerPass = 512;

    private readonly Channel<ExecuteCommand> _queue = Channel.CreateUnbounded<ExecuteCommand>(new() { SingleReader = true });

    /// <summary>Queues <paramref name="command"/>. Once the stream is closed it is dropped: the jobs it concerns were
    /// handed back with the stream.</summary>
    public void Enqueue(ExecuteCommand command) => _queue.Writer.TryWrite(command);

    /// <summary>Takes no more commands; the writing loop ends once it has written those queued.</summary>
    public void Complete() => _queue.Writer.TryComplete();

    /// <summary>Writes the queued commands to <paramref name="requests"/> until <see cref="Complete"/> or a failed
    /// write. A failed write ends the loop quietly: the stream is broken, and its read side hands the jobs back.</summary>
    public async Task WriteAsync(IClientStreamWriter<ExecuteCommand> requests, CancellationToken cancellationToken)
    {
        var reader = _queue.Reader;
        var queued = new List<ExecuteCommand>();
        try
        {
            while (await reader.WaitToReadAsync(cancellationToken))
            {
                while (queued.Count < MaxCommandsPerPass && reader.TryRead(out var command))
                {
                    queued.Add(command);
                }

                foreach (var message in CommandPacking.Pack(queued))
                {
                    await requests.WriteAsync(message, cancellationToken);
                }

                queued.Clear();
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or RpcException or InvalidOperationException)
        {
            // The read side notices the broken stream and hands the jobs back.
        }
    }
}
