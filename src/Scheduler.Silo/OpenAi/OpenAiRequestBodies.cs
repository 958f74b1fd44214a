using System.Text.Json;

namespace Scheduler.Silo.OpenAi;

/// <summary>The fields of an OpenAI generation request the scheduler reads (snake_case in JSON). Fields it does not
/// know are ignored; those that would change the result and are not supported are refused before these are read
/// (<see cref="OpenAiUnsupportedFields"/>).</summary>
internal abstract class OpenAiGenerationBody
{
    public string? Model { get; init; }

    public bool? Stream { get; init; }

    public OpenAiStreamOptions? StreamOptions { get; init; }

    public int? MaxTokens { get; init; }

    /// <summary>The newer name of <c>max_tokens</c>; wins when both are set. OpenAI documents it for chat only, but
    /// clients that moved to it send it to completions too, and a legacy default of 16 in its place cut them short.</summary>
    public int? MaxCompletionTokens { get; init; }

    public float? Temperature { get; init; }

    public float? TopP { get; init; }

    /// <summary>Not OpenAI's, but vLLM's (clients send it in <c>extra_body</c>), and the gRPC API's: ignored, a client
    /// moving from vLLM got other sampling than it asked for without a word.</summary>
    public int? TopK { get; init; }

    public long? Seed { get; init; }

    /// <summary>A string or a list of strings.</summary>
    public JsonElement? Stop { get; init; }

    public string? User { get; init; }
}

/// <summary><c>POST /v1/completions</c>.</summary>
internal sealed class OpenAiCompletionBody : OpenAiGenerationBody
{
    /// <summary>A string or a list of token ids, or a batch of one of either (a list of one).</summary>
    public JsonElement? Prompt { get; init; }
}

/// <summary><c>POST /v1/chat/completions</c>.</summary>
internal sealed class OpenAiChatBody : OpenAiGenerationBody
{
    public List<OpenAiChatMessageBody>? Messages { get; init; }
}

internal sealed class OpenAiChatMessageBody
{
    public string? Role { get; init; }

    /// <summary>A string, or a list of content parts of which only text parts are supported.</summary>
    public JsonElement? Content { get; init; }

    public JsonElement? ToolCalls { get; init; }
}

internal sealed class OpenAiStreamOptions
{
    public bool? IncludeUsage { get; init; }

    /// <summary>vLLM's: usage in every chunk. Not supported; read to refuse it (see <see cref="OpenAiUnsupportedFields"/>).</summary>
    public bool? ContinuousUsageStats { get; init; }
}
