using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;
using Scheduler.Worker.Engines.Upstream;

namespace Scheduler.Tests.Worker.Upstream;

public sealed class UpstreamChunkTests
{
    [Fact]
    public async Task Parse_VllmCompletionStream_ReadsTextsFinishAndFinalUsage()
    {
        var chunks = await ChunksOf(UpstreamTranscripts.VllmCompletion);

        Assert.Equal([" Paris", ", the", " capital", " of", ""], chunks.Select(c => c.Text));
        Assert.Equal([null, null, null, "length", null], chunks.Select(c => c.FinishReason));
        Assert.All(chunks[..^1], c => Assert.Null(c.Usage));
        Assert.Equal(new UpstreamUsage(6, 5), chunks[^1].Usage);
        Assert.All(chunks, c => Assert.Null(c.Error));
    }

    [Fact]
    public async Task Parse_VllmChatStream_ReadsDeltaContent()
    {
        var chunks = await ChunksOf(UpstreamTranscripts.VllmChat);

        Assert.Equal("Hi there", string.Concat(chunks.Select(c => c.Text)));
        Assert.Equal("stop", chunks.Single(c => c.FinishReason is not null).FinishReason);
        Assert.Equal(new UpstreamUsage(12, 2), chunks[^1].Usage);
    }

    [Fact]
    public async Task Parse_GroqChatStream_TakesUsageFromXGroq()
    {
        var chunks = await ChunksOf(UpstreamTranscripts.GroqChat);

        Assert.Equal(["", "Hello", " World", "!", ""], chunks.Select(c => c.Text));
        var last = chunks[^1];
        Assert.Equal("stop", last.FinishReason);
        Assert.Equal(new UpstreamUsage(38, 4), last.Usage);
        Assert.Null(chunks[0].Usage);
    }

    [Fact]
    public async Task Parse_VllmErrorEvent_CarriesItsMessage()
    {
        var chunks = await ChunksOf(UpstreamTranscripts.VllmErrorMidStream);

        Assert.Equal(" Once", chunks[0].Text);
        Assert.Equal("The engine loop has stopped", chunks[1].Error);
        Assert.Equal("Request was aborted by the engine", UpstreamChunk.Parse(UpstreamTranscripts.VllmLegacyErrorEvent).Error);
    }

    [Theory]
    [InlineData("[1,2]")]
    [InlineData("not json")]
    public void Parse_RejectsDataThatIsNotAJsonObject(string data) =>
        Assert.ThrowsAny<JsonException>(() => UpstreamChunk.Parse(data));

    /// <summary>The chunks of a transcript as the engine reads them: SSE events up to <c>[DONE]</c>, each parsed.</summary>
    private static async Task<List<UpstreamChunk>> ChunksOf(string transcript)
    {
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(transcript));
        var chunks = new List<UpstreamChunk>();
        var done = false;
        await foreach (var item in SseParser.Create(stream).EnumerateAsync())
        {
            Assert.False(done, "An event followed [DONE].");
            if (item.Data == UpstreamChunk.Done)
            {
                done = true;
                continue;
            }

            chunks.Add(UpstreamChunk.Parse(item.Data));
        }

        Assert.True(done, "The transcript has no [DONE].");
        return chunks;
    }
}
