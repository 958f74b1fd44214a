namespace Scheduler.Policies;

/// <summary>The forms a job's prompt comes in, as flags: a job has one, a replica takes a set of them. An engine that
/// forwards to a chat-only endpoint cannot send token ids; none but the simulated and llama.cpp engines can run a prompt
/// known only by its length. A replica is a candidate only for the jobs whose form it takes.</summary>
[Flags]
public enum PromptForms
{
    None = 0,

    /// <summary>A text prompt.</summary>
    Text = 1,

    /// <summary>Chat messages.</summary>
    Messages = 2,

    /// <summary>The model's token ids.</summary>
    TokenIds = 4,

    /// <summary>Only the prompt's length (benchmarks and simulations).</summary>
    Length = 8,

    All = Text | Messages | TokenIds | Length,
}
