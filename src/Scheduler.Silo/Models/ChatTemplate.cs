using System.Collections.Frozen;
using System.Text;
using Scheduler.Abstractions.Jobs;

namespace Scheduler.Silo.Models;

/// <summary>
/// How a model was trained to see a conversation: each turn is <see cref="TurnStart"/>, the role, <see cref="RoleEnd"/>,
/// the content and <see cref="TurnEnd"/>, after <see cref="Begin"/>; the rendering ends with the assistant's turn
/// opened (the generation prompt), so the model's next tokens are its answer. The silo renders a chat job's messages
/// with its model's template into the job's prompt, so prompt counting, the context and KV checks and cost treat a chat
/// like any text prompt.
/// </summary>
internal sealed record ChatTemplate(
    string Name,
    string Begin,
    string TurnStart,
    string RoleEnd,
    string TurnEnd,
    bool TrimContent,
    FrozenDictionary<string, string> RoleNames)
{
    /// <summary>Llama 3 / 3.1 instruct (Meta's template: content trimmed, the tool role named "ipython").</summary>
    public static readonly ChatTemplate Llama3 = new(
        "llama3", "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>\n\n", "<|eot_id|>", TrimContent: true,
        new Dictionary<string, string> { ["tool"] = "ipython" }.ToFrozenDictionary());

    /// <summary>ChatML (Qwen, many fine-tunes).</summary>
    public static readonly ChatTemplate ChatMl = new(
        "chatml", "", "<|im_start|>", "\n", "<|im_end|>\n", TrimContent: false, FrozenDictionary<string, string>.Empty);

    /// <summary>"role: content" lines, for a model trained on no chat format.</summary>
    public static readonly ChatTemplate Plain = new(
        "plain", "", "", ": ", "\n", TrimContent: false, FrozenDictionary<string, string>.Empty);

    private static readonly ChatTemplate[] All = [Llama3, ChatMl, Plain];

    /// <summary>The names a model's <c>ChatTemplate</c> setting may take.</summary>
    public static IEnumerable<string> Names => All.Select(t => t.Name);

    public static bool TryGet(string name, out ChatTemplate template) =>
        (template = All.FirstOrDefault(t => t.Name == name)!) is not null;

    /// <summary>The template of a model whose catalog entry names none: Llama 3's for a Llama 3 model, else ChatML.</summary>
    public static ChatTemplate DefaultFor(string model) =>
        model.StartsWith("llama-3", StringComparison.OrdinalIgnoreCase) || model.StartsWith("llama3", StringComparison.OrdinalIgnoreCase)
            ? Llama3
            : ChatMl;

    /// <summary>The messages as the model's prompt, ending with the assistant's turn opened.</summary>
    public string Render(IEnumerable<JobMessage> messages)
    {
        var prompt = new StringBuilder(Begin);
        foreach (var message in messages)
        {
            AppendRole(prompt, message.Role);
            prompt.Append(TrimContent ? message.Content.Trim() : message.Content).Append(TurnEnd);
        }

        AppendRole(prompt, "assistant");
        return prompt.ToString();
    }

    private void AppendRole(StringBuilder prompt, string role) =>
        prompt.Append(TurnStart).Append(RoleNames.GetValueOrDefault(role, role)).Append(RoleEnd);
}
