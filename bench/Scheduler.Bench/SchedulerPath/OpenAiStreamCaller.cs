using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using Scheduler.Bench.Harness;

namespace Scheduler.Bench.SchedulerPath;

/// <summary>
/// One job through the OpenAI-compatible API: a streamed <c>POST /v1/completions</c> with the same prompt of token ids as
/// <see cref="StreamJobCaller"/>, timed to the first chunk with text (time to first token) and to <c>data: [DONE]</c>.
/// </summary>
internal sealed class OpenAiStreamCaller(HttpClient http, string apiKey, int promptTokens, int maxTokens)
{
    private readonly string _body =
        $$"""{"model":"{{EmbeddedSilo.Model}}","prompt":[{{string.Join(',', Enumerable.Range(1000, promptTokens))}}],"max_tokens":{{maxTokens}},"stream":true}""";

    public async Task<CallTiming> Call(CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        long first = -1;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent(_body, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        response.EnsureSuccessStatusCode();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line == "data: [DONE]")
            {
                return first < 0 ? throw new InvalidOperationException("the stream ended without a token") : new CallTiming(first, Stopwatch.GetTimestamp() - start);
            }

            if (first < 0 && line.StartsWith("data: {", StringComparison.Ordinal) && !line.Contains("\"text\":\"\"", StringComparison.Ordinal))
            {
                first = Stopwatch.GetTimestamp() - start;
            }

            if (line.StartsWith("data: {\"error\"", StringComparison.Ordinal))
            {
                throw new InvalidOperationException(line);
            }
        }

        throw new InvalidOperationException("the stream ended without [DONE]");
    }
}
