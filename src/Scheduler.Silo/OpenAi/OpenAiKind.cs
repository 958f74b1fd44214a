namespace Scheduler.Silo.OpenAi;

/// <summary>Which of the two generation endpoints a request came to.</summary>
internal enum OpenAiKind
{
    /// <summary><c>POST /v1/completions</c>: a prompt in, text out.</summary>
    Completion,

    /// <summary><c>POST /v1/chat/completions</c>: messages in, an assistant message out.</summary>
    Chat,
}
