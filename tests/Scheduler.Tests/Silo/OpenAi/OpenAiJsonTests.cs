using System.Text;
using System.Text.Json;
using Scheduler.Silo.OpenAi;

namespace Scheduler.Tests.Silo.OpenAi;

public sealed class OpenAiJsonTests
{
    [Fact]
    public void Chunk_NonAsciiAndQuotes_AreWrittenAsUtf8Text_NotEscaped()
    {
        const string Text = "l'été, 你好 <b>&+";

        var chunk = OpenAiJson.Chunk(OpenAiKind.Chat, "job-1", "m", 1, Text + " 👋", withRole: false, finishReason: null, includeUsage: false);

        Assert.Contains("\"content\":\"" + Text + " ", Encoding.UTF8.GetString(chunk), StringComparison.Ordinal);
        Assert.Equal(Text + " 👋", JsonDocument.Parse(chunk).RootElement.GetProperty("choices")[0].GetProperty("delta").GetProperty("content").GetString());
    }

    [Fact]
    public void Error_QuotesAndControlCharacters_StayValidJson()
    {
        var error = OpenAiJson.Error("model 'a\"b\n' not found", "invalid_request_error", "model", "model_not_found");

        Assert.Contains("model 'a\\\"b\\n' not found", Encoding.UTF8.GetString(error), StringComparison.Ordinal);
        Assert.Equal("model 'a\"b\n' not found", JsonDocument.Parse(error).RootElement.GetProperty("error").GetProperty("message").GetString());
    }
}
