namespace Scheduler.Tests.Worker.Llama;

/// <summary>A GGUF's own chat template, applied by llama.cpp through LLamaSharp.</summary>
public sealed class LlamaModelTests(TinyModelFixture tiny) : IClassFixture<TinyModelFixture>
{
    [Fact]
    public void TokenizeChat_RendersTheGgufTemplate_WithTheAssistantTurnOpened()
    {
        var tokens = tiny.ChatModel.TokenizeChat([("system", "be brief"), ("user", "hello world"), ("assistant", "the model"), ("user", "fast")]);

        Assert.True(tiny.ChatModel.HasChatTemplate);
        Assert.Equal(
            tiny.ChatModel.Tokenize(
                "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhello world<|im_end|>\n" +
                "<|im_start|>assistant\nthe model<|im_end|>\n<|im_start|>user\nfast<|im_end|>\n<|im_start|>assistant\n"),
            tokens);
    }

    [Fact]
    public void TokenizeChat_KeepsWhatFollowsANulCharacterInAContent()
    {
        // llama.cpp takes each content as a C string: it ended at the NUL, and "world" never reached the model.
        var tokens = tiny.ChatModel.TokenizeChat([("system", "be\0brief"), ("user", "hello\0world\0")]);

        Assert.Equal(
            tiny.ChatModel.Tokenize("<|im_start|>system\nbe\0brief<|im_end|>\n<|im_start|>user\nhello\0world\0<|im_end|>\n<|im_start|>assistant\n"),
            tokens);
    }

    [Fact]
    public void TokenizeChat_OnAGgufWithoutTemplate_IsNull()
    {
        Assert.False(tiny.Model.HasChatTemplate);
        Assert.Null(tiny.Model.TokenizeChat([("user", "hello")]));
    }
}
