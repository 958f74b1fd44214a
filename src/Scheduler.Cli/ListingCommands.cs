using System.CommandLine;
using Google.Protobuf;
using Scheduler.Client;

namespace Scheduler.Cli;

/// <summary>Builds admin commands that print records: every one takes <c>-o table|wide|json</c> (see <see cref="Output"/>).</summary>
internal static class ListingCommands
{
    /// <summary>A command that lists what <paramref name="list"/> returns with <paramref name="listing"/>, in the format
    /// its <c>-o</c> option names.</summary>
    public static Command Listed<T>(
        string name, string description, Listing<T> listing,
        Func<SchedulerAdminClient, ParseResult, CancellationToken, Task<IReadOnlyList<T>>> list,
        params Symbol[] symbols) where T : IMessage
    {
        var output = Output.Create();
        var command = new Command(name, description) { output };
        AddAll(command, symbols);

        Actions.SetAdminAction(command, async (admin, parse, cancellationToken) =>
            listing.Print(await list(admin, parse, cancellationToken), parse.GetRequiredValue(output)));
        return command;
    }

    /// <summary>A command about one thing: it prints it as a one-row listing, or as a JSON object.</summary>
    public static Command Single<T>(
        string name, string description, Listing<T> listing,
        Func<SchedulerAdminClient, ParseResult, CancellationToken, Task<T>> get,
        params Symbol[] symbols) where T : IMessage =>
        Shown(name, description, get, item => Output.ToJson(item), (item, output) => listing.Print([item], output), symbols);

    /// <summary>A command that prints what <paramref name="get"/> returns as JSON (<paramref name="toJson"/>) when its
    /// <c>-o</c> says so, else its own way (<paramref name="printText"/>, given the format: table or wide).</summary>
    public static Command Shown<T>(
        string name, string description,
        Func<SchedulerAdminClient, ParseResult, CancellationToken, Task<T>> get,
        Func<T, string> toJson, Action<T, string> printText,
        params Symbol[] symbols)
    {
        var output = Output.Create();
        var command = new Command(name, description) { output };
        AddAll(command, symbols);

        Actions.SetAdminAction(command, async (admin, parse, cancellationToken) =>
        {
            var result = await get(admin, parse, cancellationToken);
            var format = parse.GetRequiredValue(output);
            if (format == Output.Json)
            {
                Console.WriteLine(toJson(result));
            }
            else
            {
                printText(result, format);
            }
        });
        return command;
    }

    private static void AddAll(Command command, Symbol[] symbols)
    {
        foreach (var symbol in symbols)
        {
            switch (symbol)
            {
                case Argument argument:
                    command.Arguments.Add(argument);
                    break;
                case Option option:
                    command.Options.Add(option);
                    break;
                default:
                    throw new ArgumentException($"a command takes arguments and options, not {symbol.GetType().Name}", nameof(symbols));
            }
        }
    }
}
