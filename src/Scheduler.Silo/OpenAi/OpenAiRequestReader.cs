using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.RequestDecompression;
using Scheduler.Protos.V1;
using Scheduler.Silo.Api;
using Scheduler.Silo.Models;

namespace Scheduler.Silo.OpenAi;

/// <summary>
/// Reads an OpenAI completion or chat completion request into a submission. The JSON is strict — a field of the wrong
/// type is a 400 naming it — but fields it does not know are ignored, except those that would change the result
/// (<see cref="OpenAiUnsupportedFields"/>). Ranges are the submission validator's to check, as for gRPC. A body is read
/// whole within the silo's <see cref="RequestBodyBudget"/>.
/// </summary>
internal sealed class OpenAiRequestReader(ModelCatalog models, IRequestDecompressionProvider decompression, RequestBodyBudget budget)
{
    /// <summary>The legacy completions API's default, when a request sets no max_tokens.</summary>
    public const int DefaultCompletionMaxTokens = 16;

    /// <summary>What newer OpenAI models call the system turn.</summary>
    private const string Developer = "developer";

    private static readonly string Roles = string.Join(", ", [.. JobRequestValidator.ChatRoles, Developer]);

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
        NumberHandling = JsonNumberHandling.Strict,
    };

    /// <summary>Reads <paramref name="http"/>'s body, held to the budget as <paramref name="tenant"/>'s (authenticated
    /// before its body is read).</summary>
    public async Task<OpenAiRequest> Read(HttpRequest http, OpenAiKind kind, string tenant)
    {
        var (body, encoding) = OpenAiRequestBody.Open(http, decompression);
        await using var decoded = encoding is null ? null : body;

        // Held until the document is parsed and disposed, however the read ends (a client gone mid-body among them); the
        // parsed request's strings live on with the job, bounded by its own limits.
        using var held = budget.Reserve(encoding is null ? http.ContentLength : null, tenant);
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(body, default, http.HttpContext.RequestAborted);
        }
        catch (JsonException ex)
        {
            throw OpenAiJsonRefusals.Malformed(ex);
        }
        catch (Exception ex) when (encoding is not null && ex is InvalidDataException or InvalidOperationException)
        {
            // What gzip and deflate (InvalidDataException) and br (InvalidOperationException) throw on bytes they cannot
            // decode; their messages add nothing a client can use.
            throw SchedulerErrors.InvalidArgument("body", $"is not valid {SchedulerErrors.Echo(encoding)} data");
        }

        using (document)
        {
            return Read(document.RootElement, kind);
        }
    }

    /// <summary>Reads a parsed request body.</summary>
    public OpenAiRequest Read(JsonElement body, OpenAiKind kind)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            throw SchedulerErrors.InvalidArgument("body", "must be a JSON object");
        }

        OpenAiUnsupportedFields.Refuse(body);
        return kind == OpenAiKind.Chat ? Chat(Deserialize<OpenAiChatBody>(body)) : Completion(Deserialize<OpenAiCompletionBody>(body));
    }

    private const int VllmAllTopK = -1;

    // OpenAI's own limit, which the gRPC API's (stop and stop_sequences together) matches.
    private const int MaxStops = 4;

    private static OpenAiRequest Completion(OpenAiCompletionBody body)
    {
        var submit = Common(body, DefaultCompletionMaxTokens);
        if (body.Prompt is not { } prompt)
        {
            throw SchedulerErrors.InvalidArgument("prompt", "is required");
        }

        // A batch — a list of prompts, each a string or a list of token ids — asks for a choice per prompt, like n > 1:
        // one job per request here, so a batch of one is its prompt and a larger one is refused.
        if (prompt.ValueKind == JsonValueKind.Array && prompt.GetArrayLength() > 0 && prompt[0].ValueKind is JsonValueKind.String or JsonValueKind.Array)
        {
            if (prompt.GetArrayLength() > 1)
            {
                throw SchedulerErrors.InvalidArgument(
                    "prompt", $"a batch of {prompt.GetArrayLength()} prompts is not supported; send one prompt per request (a batch of one is that prompt)");
            }

            prompt = prompt[0];
        }

        if (prompt.ValueKind == JsonValueKind.String)
        {
            submit.Prompt = Text(prompt, "prompt");
        }
        else if (prompt.ValueKind == JsonValueKind.Array && prompt.EnumerateArray().All(t => t.ValueKind == JsonValueKind.Number))
        {
            foreach (var token in prompt.EnumerateArray())
            {
                submit.PromptTokenIds.Add(token.TryGetInt32(out var id) ? id : throw SchedulerErrors.InvalidArgument("prompt", "token ids must be 32-bit integers"));
            }
        }
        else
        {
            throw SchedulerErrors.InvalidArgument("prompt", "must be a string, a list of token ids, or a batch of one of either");
        }

        if (submit.Prompt.Length == 0 && submit.PromptTokenIds.Count == 0)
        {
            // Said in this API's words: the gRPC API's message lists fields (prompt_token_ids, messages) it does not have.
            throw SchedulerErrors.InvalidArgument("prompt", "must not be empty");
        }

        return Finish(body, submit);
    }

    private OpenAiRequest Chat(OpenAiChatBody body)
    {
        var defaultMax = body.Model is not null && models.TryGet(body.Model, out var model) ? model.Options.MaxOutputTokens : DefaultCompletionMaxTokens;
        var submit = Common(body, defaultMax);
        if (body.Messages is not { Count: > 0 } messages)
        {
            throw SchedulerErrors.InvalidArgument("messages", "is required and must not be empty");
        }

        for (var i = 0; i < messages.Count; i++)
        {
            submit.Messages.Add(Message(messages[i], $"messages[{i}]"));
        }

        return Finish(body, submit);
    }

    private static ChatMessage Message(OpenAiChatMessageBody? message, string param)
    {
        if (message is null)
        {
            throw SchedulerErrors.InvalidArgument(param, "must be an object");
        }

        if (message.ToolCalls is { ValueKind: not JsonValueKind.Null } calls && !(calls.ValueKind == JsonValueKind.Array && calls.GetArrayLength() == 0))
        {
            throw SchedulerErrors.InvalidArgument(param + ".tool_calls", "tool calls are not supported");
        }

        // An unknown role is refused here, not by the validator, whose list of roles lacks "developer".
        var role = message.Role switch
        {
            null => throw SchedulerErrors.InvalidArgument(param + ".role", "is required"),
            Developer => "system",
            var known when JobRequestValidator.ChatRoles.Contains(known) => known,
            var other => throw SchedulerErrors.InvalidArgument(param + ".role", $"must be one of {Roles}, got '{SchedulerErrors.Echo(other)}'"),
        };

        return new ChatMessage { Role = role, Content = Content(message.Content, param + ".content") };
    }

    private static string Content(JsonElement? content, string param)
    {
        switch (content)
        {
            case { ValueKind: JsonValueKind.String } text:
                return Text(text, param);
            case { ValueKind: JsonValueKind.Array } parts:
                var joined = new StringBuilder();
                var index = 0;
                foreach (var part in parts.EnumerateArray())
                {
                    var partParam = $"{param}[{index++}]";
                    if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
                    {
                        throw SchedulerErrors.InvalidArgument(partParam + ".type", "is required");
                    }

                    if (Text(type, partParam + ".type") is var kind && kind != "text")
                    {
                        throw SchedulerErrors.InvalidArgument(partParam + ".type", $"'{SchedulerErrors.Echo(kind)}' parts are not supported; only text");
                    }

                    if (!part.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
                    {
                        throw SchedulerErrors.InvalidArgument(partParam + ".text", "must be a string");
                    }

                    // Text parts are one text, a line apart (as vLLM joins them).
                    joined.Append(joined.Length > 0 ? "\n" : "").Append(Text(text, partParam + ".text"));
                }

                return joined.ToString();
            default:
                throw SchedulerErrors.InvalidArgument(param, "must be a string or a list of text parts");
        }
    }

    /// <summary>The fields both endpoints share; <paramref name="defaultMaxTokens"/> when the request sets neither
    /// max_completion_tokens nor max_tokens.</summary>
    private static SubmitJobRequest Common(OpenAiGenerationBody body, int defaultMaxTokens)
    {
        var submit = new SubmitJobRequest { Model = body.Model ?? "", MaxTokens = body.MaxCompletionTokens ?? body.MaxTokens ?? defaultMaxTokens };
        if (body.Temperature is { } temperature)
        {
            submit.Temperature = temperature;
        }

        if (body.TopP is { } topP)
        {
            // OpenAI's top_p lies in [0, 1], and 0 keeps the most likely token alone; the scheduler's (and vLLM's) lies in
            // (0, 1], so an OpenAI client's 0 was a 400. The smallest top_p above 0 keeps that one token in every engine
            // (nucleus sampling keeps at least one).
            submit.TopP = topP == 0 ? float.Epsilon : topP;
        }

        if (body.TopK is { } topK)
        {
            // vLLM's "keep every token" is -1 (its default in older versions, so clients send it), the scheduler's 0;
            // other negatives go on to the validator's refusal naming top_k.
            submit.TopK = topK == VllmAllTopK ? 0 : topK;
        }

        if (body.Seed is { } seed)
        {
            // OpenAI's seed is signed, the scheduler's unsigned: the same bits, so each seed stays its own.
            submit.Seed = unchecked((ulong)seed);
        }

        switch (body.Stop)
        {
            case null:
                break;
            case { ValueKind: JsonValueKind.String } one:
                submit.Stop = Text(one, "stop");
                break;
            case { ValueKind: JsonValueKind.Array } list when list.EnumerateArray().All(s => s.ValueKind == JsonValueKind.String):
                if (list.GetArrayLength() > MaxStops)
                {
                    throw SchedulerErrors.InvalidArgument("stop", $"at most {MaxStops} stop sequences, got {list.GetArrayLength()}");
                }

                // An empty text is no stop, as a lone "" is (the submission's empty stop is unset): OpenAI's schema
                // takes it in a list as well, and clients that build the list send one; the gRPC validator refuses an
                // empty stop_sequences text, which was a 400 for [""] while "" passed.
                submit.StopSequences.AddRange(list.EnumerateArray().Select(s => Text(s, "stop")).Where(s => s.Length > 0));
                break;
            default:
                throw SchedulerErrors.InvalidArgument("stop", "must be a string or a list of strings");
        }

        return submit;
    }

    private static OpenAiRequest Finish(OpenAiGenerationBody body, SubmitJobRequest submit)
    {
        if (body.StreamOptions is not null && body.Stream != true)
        {
            // As OpenAI's API and vLLM refuse it: options of a stream that is not sent, dropped without a word, left a
            // client waiting for a usage chunk that never came.
            throw SchedulerErrors.InvalidArgument("stream_options", "is allowed only when stream is true");
        }

        if (body.StreamOptions?.ContinuousUsageStats == true)
        {
            // Ignored, a vLLM client waited for usage on every chunk and got none until the end.
            throw SchedulerErrors.InvalidArgument(
                "stream_options.continuous_usage_stats", "usage on every chunk is not supported; include_usage sends it in a last chunk");
        }

        if (body.User is { } user && Characters.MoreThan(user, JobRequestValidator.MaxIdentifierLength))
        {
            // An end-user id, put on the submission's trace span (enduser.id): unbounded, 100 KB of it was taken into
            // every exported span. OpenAI documents no limit; the one every identifier here has.
            throw SchedulerErrors.InvalidArgument("user", $"is longer than {JobRequestValidator.MaxIdentifierLength} characters");
        }

        return new(submit, body.Stream == true, body.StreamOptions?.IncludeUsage == true, body.User)
        {
            MaxTokensField = body.MaxCompletionTokens is null ? OpenAiRequest.MaxTokens : OpenAiRequest.MaxCompletionTokens,
            FitMaxTokens = body.MaxCompletionTokens is null && body.MaxTokens is null,
        };
    }

    /// <summary>A JSON string's text. One that is not UTF-8 — raw bytes that are not, or an escaped lone surrogate, which
    /// the parser lets through as valid JSON — is a 400 naming <paramref name="param"/>, as gRPC refuses such a string,
    /// not a transcoding exception's 500.</summary>
    private static string Text(JsonElement value, string param)
    {
        try
        {
            return value.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw SchedulerErrors.InvalidArgument(param, OpenAiJsonRefusals.NotUtf8);
        }
    }

    private static T Deserialize<T>(JsonElement body)
    {
        try
        {
            return body.Deserialize<T>(Json)!;
        }
        catch (JsonException ex)
        {
            throw OpenAiJsonRefusals.WrongType(ex, body, Json.GetTypeInfo(typeof(T)));
        }
    }
}
