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
        foreach (var error in parse.Errors)
        {
            await Console.Error.WriteLineAsync($"error: {error.Message}");
        }

        await Console.Error.WriteLineAsync($"Usage: {CommandPath(parse.CommandResult)} --help");
        return ExitCodes.Failed;
    }

    private static string CommandPath(CommandResult command) =>
        command.Parent is CommandResult parent ? $"{CommandPath(parent)} {command.Command.Name}" : "schedctl";
}
