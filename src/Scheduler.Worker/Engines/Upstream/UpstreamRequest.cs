using System.Buffers;
using System.Net.Http.Headers;
using System.Text.Json;
using Scheduler.Protos.V1;

namespace Scheduler.Worker.Engines.Upstream;

/// <summary>
/// The streaming request an upstream gets for a sequence: <c>POST v1/chat/completions</c> when the sequence carries chat
/// messages (or the upstream has only chat), else <c>POST v1/completions</c>, with <c>stream</c>,
/// <c>stream_options.include_usage</c>, <c>max_tokens</c> and the sampling fields the OpenAI API has (temperature,
/// top_p, seed, stop).
/// </summary>
internal sealed class UpstreamRequest
{
    private readonly byte[] _body;

    private UpstreamRequest(string path, byte[] body, int maxTokens, bool continues, int estimatedTokens)
    {
        Path = path;
        _body = body;
        MaxTokens = maxTokens;
        ContinuesAfterDelivered = continues;
        EstimatedTokens = estimatedTokens;
    }

    /// <summary><c>v1/completions</c> or <c>v1/chat/completions</c>.</summary>
    public string Path { get; }

    /// <summary>The <c>max_tokens</c> sent.</summary>
    public int MaxTokens { get; }

    /// <summary>True when the prompt sent ends with the text delivered before a resume, so the upstream generates only the rest.</summary>
    public bool ContinuesAfterDelivered { get; }

    /// <summary>Prompt plus output tokens the request may use, as a metered upstream counts them: what the limiter reserves.</summary>
    public int EstimatedTokens { get; }

    /// <summary>Why the upstream can never run <paramref name="spec"/>, in words for the tenant, or null when it can.</summary>
    public static string? Fault(SequenceSpec spec, UpstreamReplicaSettings settings) =>
        spec.Messages.Count > 0 || spec.Prompt.Length > 0 ? null
        : settings.ChatOnly ? "the upstream takes chat messages or a prompt as text, and the job has neither"
        : spec.PromptTokenIds.Count > 0 ? null
        : "the upstream takes a prompt as text, token ids or chat messages, and the job gives only the prompt's length";

    /// <summary>The request for <paramref name="spec"/>, which <see cref="Fault"/> found runnable.</summary>
    public static UpstreamRequest Create(SequenceSpec spec, UpstreamReplicaSettings settings)
    {
        var resumeFrom = Math.Max(0, spec.ResumeFromToken);
        var chat = spec.Messages.Count > 0 || settings.ChatOnly;
        // Continuing after the delivered text needs a text prompt to append it to, and the text itself.
        var continues = !chat && resumeFrom > 0 && spec.Prompt.Length > 0 && spec.ResumeText.Length > 0;
        var maxTokens = continues ? spec.MaxTokens - resumeFrom : spec.MaxTokens;
        var promptCharacters = spec.Prompt.Length + spec.Messages.Sum(m => m.Content.Length) + (continues ? spec.ResumeText.Length : 0);
        var promptTokens = spec.PromptTokens > 0 ? spec.PromptTokens + (continues ? resumeFrom : 0)
            : spec.PromptTokenIds.Count > 0 ? spec.PromptTokenIds.Count
            : (promptCharacters / 4) + 1;

        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("model", settings.Model);
            if (chat)
            {
                json.WriteStartArray("messages");
                foreach (var (role, content) in spec.Messages.Count > 0 ? spec.Messages.Select(m => (m.Role, m.Content)) : [("user", spec.Prompt)])
                {
                    json.WriteStartObject();
                    json.WriteString("role", role);
                    json.WriteString("content", content);
                    json.WriteEndObject();
                }

                json.WriteEndArray();
            }
            else if (spec.Prompt.Length > 0)
            {
                json.WriteString("prompt", continues ? spec.Prompt + spec.ResumeText : spec.Prompt);
            }
            else
            {
                json.WriteStartArray("prompt");
                foreach (var id in spec.PromptTokenIds)
                {
                    json.WriteNumberValue(id);
                }

                json.WriteEndArray();
            }

            json.WriteNumber("max_tokens", maxTokens);
            json.WriteBoolean("stream", true);
            json.WriteStartObject("stream_options");
            json.WriteBoolean("include_usage", true);
            json.WriteEndObject();
            if (spec.HasTemperature)
            {
                json.WriteNumber("temperature", spec.Temperature);
            }

            if (spec.HasTopP)
            {
                json.WriteNumber("top_p", spec.TopP);
            }

            if (spec.HasSeed)
            {
                // OpenAI's API takes a signed 64-bit seed and refuses a larger one (400), while ours is unsigned: the same
                // 64 bits are sent, so every seed is accepted, and the OpenAI door's negative seed (-1 → 2^64 − 1) goes
                // back out as the number its client sent.
                json.WriteNumber("seed", unchecked((long)spec.Seed));
            }

            var stops = spec.StopSequences.Prepend(spec.Stop).Where(s => s.Length > 0).Distinct(StringComparer.Ordinal).ToList();
            if (stops.Count > 0)
            {
                json.WriteStartArray("stop");
                stops.ForEach(json.WriteStringValue);
                json.WriteEndArray();
            }

            json.WriteEndObject();
        }

        return new UpstreamRequest(chat ? "v1/chat/completions" : "v1/completions", buffer.WrittenSpan.ToArray(), maxTokens, continues, promptTokens + maxTokens);
    }

    /// <summary>A new HTTP request message (one per send).</summary>
    public HttpRequestMessage ToHttp(string? apiKey)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, Path) { Content = new ByteArrayContent(_body) };
        message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (apiKey is not null)
        {
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }

        return message;
    }
}
