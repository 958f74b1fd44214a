namespace Scheduler.Tests.Worker;

/// <summary>A synchronization context that keeps what is posted to it until <see cref="RunAll"/>: a test sees where an
/// async loop lets its thread go.</summary>
internal sealed class HeldPosts : SynchronizationContext
{
    private readonly Queue<(SendOrPostCallback Callback, object? State)> _posted = new();

    public int Count => _posted.Count;

    public override void Post(SendOrPostCallback d, object? state) => _posted.Enqueue((d, state));

    public void RunAll()
    {
        while (_posted.TryDequeue(out var post))
        {
            post.Callback(post.State);
        }
    }
}
