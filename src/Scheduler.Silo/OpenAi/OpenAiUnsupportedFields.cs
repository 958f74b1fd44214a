using System.Text.Json;
using Scheduler.Silo.Api;

namespace Scheduler.Silo.OpenAi;

/// <summary>
/// OpenAI request fields that would change the result and that the scheduler does not support: refused with a 400 naming
/// the field rather than ignored, since the client would get something other than it asked for. Each may still be sent
/// with its neutral value (<c>n: 1</c>, <c>logprobs: false</c>, <c>top_logprobs: 0</c>, <c>response_format: {"type":"text"}</c>,
/// null...), which asks for nothing extra. vLLM's extensions of the API are treated alike.
/// </summary>
internal static class OpenAiUnsupportedFields
{
    private static readonly (string Field, Func<JsonElement, bool> Neutral, string Problem)[] Fields =
    [
        ("n", v => IsNumber(v, 1), "only one choice per request is supported (n = 1)"),
        ("best_of", v => IsNumber(v, 1), "is not supported (best_of = 1)"),
        ("logprobs", v => v.ValueKind == JsonValueKind.False, "log probabilities are not supported"),
        ("top_logprobs", v => IsNumber(v, 0), "log probabilities are not supported (0 only)"),
        ("echo", v => v.ValueKind == JsonValueKind.False, "is not supported"),
        ("suffix", v => v.ValueKind == JsonValueKind.String && v.ValueEquals(""), "is not supported"),
        ("logit_bias", v => v.ValueKind == JsonValueKind.Object && !v.EnumerateObject().Any(), "is not supported"),
        ("presence_penalty", v => IsNumber(v, 0), "is not supported (0 only)"),
        ("frequency_penalty", v => IsNumber(v, 0), "is not supported (0 only)"),
        ("tools", v => v.ValueKind == JsonValueKind.Array && v.GetArrayLength() == 0, "tool calls are not supported"),
        ("functions", v => v.ValueKind == JsonValueKind.Array && v.GetArrayLength() == 0, "function calls are not supported"),
        ("tool_choice", v => v.ValueKind == JsonValueKind.String && (v.ValueEquals("none") || v.ValueEquals("auto")), "tool calls are not supported"),
        ("function_call", v => v.ValueKind == JsonValueKind.String && (v.ValueEquals("none") || v.ValueEquals("auto")), "function calls are not supported"),
        ("response_format", IsTextFormat, "only {\"type\": \"text\"} is supported"),
        ("modalities", v => v.ValueKind == JsonValueKind.Array && v.EnumerateArray().All(m => m.ValueKind == JsonValueKind.String && m.ValueEquals("text")), "only text output is supported"),
        ("audio", _ => false, "audio output is not supported"),
        ("prediction", _ => false, "predicted outputs are not supported"),
        ("web_search_options", _ => false, "web search is not supported"),

        // vLLM's own sampling and output fields, which clients moving from vLLM send in extra_body (its top_k is read).
        ("min_p", v => IsNumber(v, 0), "is not supported (0 only)"),
        ("repetition_penalty", v => IsNumber(v, 1), "is not supported (1 only)"),
        ("length_penalty", v => IsNumber(v, 1), "is not supported (1 only)"),
        ("min_tokens", v => IsNumber(v, 0), "is not supported (0 only)"),
        ("ignore_eos", v => v.ValueKind == JsonValueKind.False, "is not supported"),
        ("use_beam_search", v => v.ValueKind == JsonValueKind.False, "beam search is not supported"),
        ("include_stop_str_in_output", v => v.ValueKind == JsonValueKind.False, "is not supported: the answer leaves the stop text out"),
        ("stop_token_ids", v => v.ValueKind == JsonValueKind.Array && v.GetArrayLength() == 0, "is not supported; stop on texts with stop"),
        ("guided_json", _ => false, "guided decoding is not supported"),
        ("guided_regex", _ => false, "guided decoding is not supported"),
        ("guided_choice", _ => false, "guided decoding is not supported"),
        ("guided_grammar", _ => false, "guided decoding is not supported"),
    ];

    /// <summary>Throws INVALID_ARGUMENT naming the first field of <paramref name="body"/> that asks for what is not supported.</summary>
    public static void Refuse(JsonElement body)
    {
        foreach (var (field, neutral, problem) in Fields)
        {
            if (body.TryGetProperty(field, out var value) && value.ValueKind != JsonValueKind.Null && !neutral(value))
            {
                throw SchedulerErrors.InvalidArgument(field, problem);
            }
        }
    }

    private static bool IsNumber(JsonElement v, double expected) => v.ValueKind == JsonValueKind.Number && v.GetDouble() == expected;

    private static bool IsTextFormat(JsonElement v) =>
        v.ValueKind == JsonValueKind.Object && v.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.ValueEquals("text");
}
