using System.CommandLine;
using System.CommandLine.Parsing;

namespace Scheduler.Cli;

/// <summary>
/// Reports what does not parse as every other failure is reported: <c>error: …</c> lines on stderr, then where the
/// usage is, and exit code 1 — not System.CommandLine's default of the errors followed by the whole help page, which
/// buried the one line that mattered and looked unlike a refused value ("error: Unavailable: …").
/// </summary>
internal static class UsageErrors
{
    public static async Task<int> ReportAsync(ParseResult parse)
    {
        foreach (var error in parse.Errors.Where(e => !IsEchoOfAnUnknownCommand(e, parse)))
        {
            await Console.Error.WriteLineAsync($"error: {error.Message}");
        }

        await Console.Error.WriteLineAsync($"Usage: {CommandPath(parse.CommandResult)} --help");
        return ExitCodes.Failed;
    }

    /// <summary>
    /// "Required command was not provided." beside an unrecognized token: <c>schedctl nosuch</c> named no command only
    /// because it named one that does not exist, so the first line read as if the user had typed none.
    /// </summary>
    private static bool IsEchoOfAnUnknownCommand(ParseError error, ParseResult parse) =>
        parse.UnmatchedTokens.Count > 0
        && error.SymbolResult is CommandResult { Command: { Action: null, Subcommands.Count: > 0 } }
        && !parse.UnmatchedTokens.Any(token => error.Message.Contains(token, StringComparison.Ordinal));

    private static string CommandPath(CommandResult command) =>
        command.Parent is CommandResult parent ? $"{CommandPath(parent)} {command.Command.Name}" : "schedctl";
}
