using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using Scheduler.Abstractions.Jobs;

namespace Scheduler.Silo.OpenAi;

/// <summary>The OpenAI API's response bodies, written as UTF-8 JSON: completions, chat completions, their stream
/// chunks, the model list and errors.</summary>
internal static class OpenAiJson
{
    public const string ContentType = "application/json";

    public static byte[] ModelList(IEnumerable<string> models) => Write(w =>
    {
        w.WriteString("object", "list");
        w.WriteStartArray("data");
        foreach (var model in models)
        {
            w.WriteStartObject();
            ModelFields(w, model);
            w.WriteEndObject();
        }

        w.WriteEndArray();
    });

    public static byte[] Model(string model) => Write(w => ModelFields(w, model));

    /// <summary>A whole (non-streamed) completion or chat completion.</summary>
    public static byte[] Completion(OpenAiKind kind, string id, string model, long created, string text, string finishReason, JobUsage usage) => Write(w =>
    {
        Header(w, kind == OpenAiKind.Chat ? "chat.completion" : "text_completion", id, model, created);
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", 0);
        if (kind == OpenAiKind.Chat)
        {
            w.WriteStartObject("message");
            w.WriteString("role", "assistant");
            w.WriteString("content", text);
            w.WriteNull("refusal");
            w.WriteEndObject();
        }
        else
        {
            w.WriteString("text", text);
        }

        w.WriteNull("logprobs");
        w.WriteString("finish_reason", finishReason);
        w.WriteEndObject();
        w.WriteEndArray();
        Usage(w, usage);
    });

    /// <summary>One stream chunk with a choice: <paramref name="text"/> (for chat, the first chunk carries the role),
    /// and on the last one the <paramref name="finishReason"/>.</summary>
    public static byte[] Chunk(OpenAiKind kind, string id, string model, long created, string? text, bool withRole, string? finishReason, bool includeUsage) => Write(w =>
    {
        Header(w, kind == OpenAiKind.Chat ? "chat.completion.chunk" : "text_completion", id, model, created);
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", 0);
        if (kind == OpenAiKind.Chat)
        {
            w.WriteStartObject("delta");
            if (withRole)
            {
                w.WriteString("role", "assistant");
            }

            if (text is not null)
            {
                w.WriteString("content", text);
            }

            w.WriteEndObject();
        }
        else
        {
            w.WriteString("text", text ?? "");
        }

        w.WriteNull("logprobs");
        if (finishReason is null)
        {
            w.WriteNull("finish_reason");
        }
        else
        {
            w.WriteString("finish_reason", finishReason);
        }

        w.WriteEndObject();
        w.WriteEndArray();

        // With stream_options.include_usage every chunk has the field, null until the last (as OpenAI's API does).
        if (includeUsage)
        {
            w.WriteNull("usage");
        }
    });

    /// <summary>The last chunk of a stream with <c>stream_options.include_usage</c>: no choices, the usage.</summary>
    public static byte[] UsageChunk(OpenAiKind kind, string id, string model, long created, JobUsage usage) => Write(w =>
    {
        Header(w, kind == OpenAiKind.Chat ? "chat.completion.chunk" : "text_completion", id, model, created);
        w.WriteStartArray("choices");
        w.WriteEndArray();
        Usage(w, usage);
    });

    public static byte[] Error(string message, string type, string? param, string? code) => Write(w =>
    {
        w.WriteStartObject("error");
        w.WriteString("message", message);
        w.WriteString("type", type);
        WriteNullable(w, "param", param);
        WriteNullable(w, "code", code);
        w.WriteEndObject();
    });

    private static void ModelFields(Utf8JsonWriter w, string model)
    {
        w.WriteString("id", model);
        w.WriteString("object", "model");
        w.WriteNumber("created", 0);
        w.WriteString("owned_by", "scheduler");
    }

    private static void Header(Utf8JsonWriter w, string type, string id, string model, long created)
    {
        w.WriteString("id", id);
        w.WriteString("object", type);
        w.WriteNumber("created", created);
        w.WriteString("model", model);
    }

    private static void Usage(Utf8JsonWriter w, JobUsage usage)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", usage.PromptTokens);
        w.WriteNumber("completion_tokens", usage.CompletionTokens);
        w.WriteNumber("total_tokens", usage.PromptTokens + usage.CompletionTokens);
        // As OpenAI reports its own prompt caching: the prompt tokens an engine's prefix cache spared.
        w.WriteStartObject("prompt_tokens_details");
        w.WriteNumber("cached_tokens", usage.CachedPromptTokens);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteNullable(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }

    // Text as UTF-8, as OpenAI's API writes it: the default encoder escapes every non-ASCII character and ' " < > & + (for
    // JSON embedded in HTML), which made "model 'x' not found" read model \u0027x\u0027 in curl and sent an answer in
    // Chinese at twice its bytes. These bodies are application/json and text/event-stream, never HTML; quotes,
    // backslashes and control characters are still escaped, as JSON requires (and this encoder still escapes characters
    // past U+FFFF, emoji among them: valid JSON all the same).
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static byte[] Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, Options))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
