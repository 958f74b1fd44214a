using System.Text.Json;

namespace Scheduler.Worker.Engines.Upstream;

/// <summary>The token usage an upstream reports for a whole request.</summary>
internal readonly record struct UpstreamUsage(int PromptTokens, int CompletionTokens);

/// <summary>
/// One server-sent event of an OpenAI-compatible streaming response, read for what the engine needs: the text of the
/// first choice (<c>choices[0].text</c> of <c>/v1/completions</c>, <c>choices[0].delta.content</c> of
/// <c>/v1/chat/completions</c>), its <c>finish_reason</c>, the request's <c>usage</c> (OpenAI's and vLLM's final chunk
/// with <c>stream_options.include_usage</c>, or Groq's <c>x_groq.usage</c>), and an <c>error</c> the server sends
/// mid-stream instead of a chunk (<c>{"error":{"message":…}}</c>, or vLLM's older <c>{"object":"error","message":…}</c>).
/// </summary>
internal sealed record UpstreamChunk(string Text, string? FinishReason, UpstreamUsage? Usage, string? Error)
{
    /// <summary>The data of the event that ends an OpenAI-style stream.</summary>
    public const string Done = "[DONE]";

    /// <summary>Reads one event's data.</summary>
    /// <exception cref="JsonException">The data is not a JSON object.</exception>
    public static UpstreamChunk Parse(string data)
    {
        using var document = JsonDocument.Parse(data);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new JsonException($"an upstream event is a JSON {root.ValueKind}, not an object");
        }

        if (ErrorOf(root) is { } error)
        {
            return new UpstreamChunk("", null, null, error);
        }

        var text = "";
        string? finishReason = null;
        if (root.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array && choices.GetArrayLength() > 0)
        {
            var choice = choices[0];
            text = String(choice, "text")
                ?? (choice.TryGetProperty("delta", out var delta) && delta.ValueKind == JsonValueKind.Object ? String(delta, "content") : null)
                ?? "";
            finishReason = String(choice, "finish_reason");
        }

        var usage = UsageOf(root) ?? (root.TryGetProperty("x_groq", out var groq) && groq.ValueKind == JsonValueKind.Object ? UsageOf(groq) : null);
        return new UpstreamChunk(text, finishReason, usage, null);
    }

    /// <summary>The message of an OpenAI-style error body, or null when <paramref name="root"/> is not one.</summary>
    public static string? ErrorOf(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        if (root.TryGetProperty("error", out var error))
        {
            return error.ValueKind switch
            {
                JsonValueKind.Object => String(error, "message") ?? error.GetRawText(),
                JsonValueKind.String => error.GetString(),
                _ => error.GetRawText(),
            };
        }

        return String(root, "object") == "error" ? String(root, "message") ?? root.GetRawText() : null;
    }

    private static UpstreamUsage? UsageOf(JsonElement parent) =>
        parent.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object &&
        usage.TryGetProperty("completion_tokens", out var completion) && completion.TryGetInt32(out var completionTokens)
            ? new UpstreamUsage(usage.TryGetProperty("prompt_tokens", out var prompt) && prompt.TryGetInt32(out var p) ? p : 0, completionTokens)
            : null;

    private static string? String(JsonElement parent, string name) =>
        parent.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
