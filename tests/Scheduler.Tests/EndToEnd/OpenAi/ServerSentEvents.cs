namespace Scheduler.Tests.EndToEnd.OpenAi;

/// <summary>Reads an OpenAI-style SSE answer as a client does, one event's data at a time.</summary>
internal static class ServerSentEvents
{
    /// <summary>The next event's data, or null when the stream ended; fails after <paramref name="within"/>.</summary>
    public static async Task<string?> NextDataAsync(StreamReader reader, TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        while (await reader.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                return line["data: ".Length..];
            }
        }

        return null;
    }
}
