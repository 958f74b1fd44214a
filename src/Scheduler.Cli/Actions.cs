using System.CommandLine;
using Grpc.Core;
using Scheduler.Client;

namespace Scheduler.Cli;

/// <summary>
/// Binds commands to actions that report failures as one <c>error: …</c> line on stderr and an exit code,
/// never a stack trace.
/// </summary>
internal static class Actions
{
    /// <summary>Runs <paramref name="action"/> with a tenant client; it returns the exit code.</summary>
    public static void SetClientAction(
        Command command, Func<SchedulerClient, ParseResult, CancellationToken, Task<int>> action) =>
        command.SetAction((parse, cancellationToken) => GuardAsync(
            parse,
            async () =>
            {
                using var client = GlobalOptions.CreateClient(parse);
                return await action(client, parse, cancellationToken);
            },
            cancellationToken));

    /// <summary>Runs <paramref name="action"/> with an admin client; the command exits 0 unless it throws.</summary>
    public static void SetAdminAction(
        Command command, Func<SchedulerAdminClient, ParseResult, CancellationToken, Task> action) =>
        command.SetAction((parse, cancellationToken) => RunWithAdmin(parse, admin => action(admin, parse, cancellationToken), cancellationToken));

    /// <summary>Runs <paramref name="action"/> with an admin client, guarded like every action; 0 unless it throws.</summary>
    public static Task<int> RunWithAdmin(ParseResult parse, Func<SchedulerAdminClient, Task> action, CancellationToken cancellationToken) =>
        GuardAsync(
            parse,
            async () =>
            {
                using var admin = GlobalOptions.CreateAdminClient(parse);
                await action(admin);
                return ExitCodes.Ok;
            },
            cancellationToken);

    /// <summary>Runs <paramref name="action"/> with a tenant client, guarded like every action; 0 unless it throws.</summary>
    public static Task<int> RunWithClient(ParseResult parse, Func<SchedulerClient, Task> action, CancellationToken cancellationToken) =>
        GuardAsync(
            parse,
            async () =>
            {
                using var client = GlobalOptions.CreateClient(parse);
                await action(client);
                return ExitCodes.Ok;
            },
            cancellationToken);

    private static async Task<int> GuardAsync(ParseResult parse, Func<Task<int>> run, CancellationToken cancellationToken)
    {
        try
        {
            return await run();
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            return ExitCodes.Interrupted;
        }
        // Unreachable: the detail ("Error connecting to subchannel.") names no address, and the operator's next question
        // is which one was dialled (the flag, $SCHEDULER_ADDRESS or the default).
        catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable)
        {
            await Console.Error.WriteLineAsync($"error: {e.StatusCode}: cannot reach the scheduler at {GlobalOptions.AddressOf(parse)}: {Detail(e.Status)}");
            return ExitCodes.RpcError;
        }
        catch (RpcException e)
        {
            await Console.Error.WriteLineAsync($"error: {e.StatusCode}: {Detail(e.Status)}");
            return ExitCodes.RpcError;
        }
        catch (Exception e)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            return ExitCodes.Failed;
        }
    }

    // A transport failure's detail is generic ("Error connecting to subchannel."); its cause says what happened.
    private static string Detail(Status status) => status.DebugException?.GetBaseException() is { } cause
        ? $"{status.Detail} ({cause.Message})"
        : status.Detail;
}
