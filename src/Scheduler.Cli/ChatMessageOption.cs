using System.CommandLine;
using System.CommandLine.Parsing;
using Scheduler.Protos.V1;

namespace Scheduler.Cli;

/// <summary><c>--message role=content</c>, repeated: a chat, turn by turn, sent as the job's messages. The scheduler
/// checks the roles and renders the chat with the model's template.</summary>
internal static class ChatMessageOption
{
    public static Option<ChatMessage[]> Create() => new("--message")
    {
        Description = "A chat turn as role=content (role: system, user, assistant or tool); repeat it for a conversation. Instead of --prompt",
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
        CustomParser = Parse,
    };

    private static ChatMessage[] Parse(ArgumentResult result)
    {
        var messages = new ChatMessage[result.Tokens.Count];
        for (var i = 0; i < messages.Length; i++)
        {
            var text = result.Tokens[i].Value;
            var split = text.IndexOf('=', StringComparison.Ordinal);
            if (split <= 0)
            {
                result.AddError($"--message '{text}': expected role=content, e.g. --message user=Hello");
                return [];
            }

            messages[i] = new ChatMessage { Role = text[..split], Content = text[(split + 1)..] };
        }

        return messages;
    }
}
