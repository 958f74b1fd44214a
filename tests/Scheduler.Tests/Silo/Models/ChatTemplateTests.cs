using Microsoft.Extensions.Options;
using Scheduler.Abstractions.Jobs;
using Scheduler.Silo.Models;

namespace Scheduler.Tests.Silo.Models;

public sealed class ChatTemplateTests
{
    private static readonly JobMessage[] Chat =
    [
        new("system", "Be brief."),
        new("user", " Hello? "),
        new("assistant", "Hi."),
        new("tool", "{\"ok\":true}"),
    ];

    [Fact]
    public void Llama3_RendersHeadersAndEndsWithTheAssistantHeader_TrimmingContent_ToolAsIpython() =>
        Assert.Equal(
            "<|begin_of_text|>" +
            "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nHello?<|eot_id|>" +
            "<|start_header_id|>assistant<|end_header_id|>\n\nHi.<|eot_id|>" +
            "<|start_header_id|>ipython<|end_header_id|>\n\n{\"ok\":true}<|eot_id|>" +
            "<|start_header_id|>assistant<|end_header_id|>\n\n",
            ChatTemplate.Llama3.Render(Chat));

    [Fact]
    public void ChatMl_RendersImStartTurns_AndOpensTheAssistantTurn() =>
        Assert.Equal(
            "<|im_start|>system\nBe brief.<|im_end|>\n" +
            "<|im_start|>user\n Hello? <|im_end|>\n" +
            "<|im_start|>assistant\nHi.<|im_end|>\n" +
            "<|im_start|>tool\n{\"ok\":true}<|im_end|>\n" +
            "<|im_start|>assistant\n",
            ChatTemplate.ChatMl.Render(Chat));

    [Fact]
    public void Plain_RendersRoleLines_AndEndsWithAssistantColon() =>
        Assert.Equal(
            "system: Be brief.\nuser:  Hello? \nassistant: Hi.\ntool: {\"ok\":true}\nassistant: ",
            ChatTemplate.Plain.Render(Chat));

    [Theory]
    [InlineData("llama-3.1-8b", "llama3")]
    [InlineData("Llama3-70B", "llama3")]
    [InlineData("qwen2.5-7b", "chatml")]
    public void DefaultFor_PicksLlama3ForLlama3Models_ElseChatMl(string model, string template) =>
        Assert.Equal(template, ChatTemplate.DefaultFor(model).Name);

    [Fact]
    public void Catalog_UsesTheConfiguredTemplate_OrTheModelsDefault()
    {
        var catalog = new ModelCatalog(Options.Create(new ModelCatalogOptions
        {
            Models = [new() { Name = "llama-3.1-8b" }, new() { Name = "mine", ChatTemplate = "plain" }],
        }));

        Assert.True(catalog.TryGet("llama-3.1-8b", out var llama));
        Assert.True(catalog.TryGet("mine", out var mine));
        Assert.Same(ChatTemplate.Llama3, llama.ChatTemplate);
        Assert.Same(ChatTemplate.Plain, mine.ChatTemplate);
    }
}
