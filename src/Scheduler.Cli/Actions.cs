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
        SetClientAction(command, (client, _, parse, cancellationToken) => action(client, parse, cancellationToken));

    /// <summary>Runs <paramref name="action"/> with a tenant client and the addresses it calls (a job's stream moves
    /// among them); it returns the exit code.</summary>
    public static void SetClientAction(
        Command command, Func<SchedulerClient, AddressRotation, ParseResult, CancellationToken, Task<int>> action) =>
        command.SetAction((parse, cancellationToken) => GuardAsync(
            parse,
            async () =>
            {
                using var addresses = GlobalOptions.Connect(parse);
                using var client = GlobalOptions.CreateClient(parse, addresses);
                return await action(client, addresses, parse, cancellationToken);
            },
            cancellationToken));

    /// <summary>Runs <paramref name="action"/> with an admin client; the command exits 0 unless it throws.</summary>
    public static void SetAdminAction(
        Command command, Func<SchedulerAdminClient, ParseResult, CancellationToken, Task> action) =>
        command.SetAction((parse, cancellationToken) => RunWithAdmin(parse, admin => action(admin, parse, cancellationToken), cancellationToken));

    /// <summary>Runs <paramref name="action"/> with an admin client and the addresses it calls (<c>top</c> shows which
    /// one answers); the command exits 0 unless it throws.</summary>
    public static void SetAdminAction(
        Command command, Func<SchedulerAdminClient, AddressRotation, ParseResult, CancellationToken, Task> action) =>
        command.SetAction((parse, cancellationToken) => RunWithAdmin(parse, (admin, addresses) => action(admin, addresses, parse, cancellationToken), cancellationToken));

    /// <summary>Runs <paramref name="action"/> with an admin client, guarded like every action; 0 unless it throws.</summary>
    public static Task<int> RunWithAdmin(ParseResult parse, Func<SchedulerAdminClient, Task> action, CancellationToken cancellationToken) =>
        RunWithAdmin(parse, (admin, _) => action(admin), cancellationToken);

    private static Task<int> RunWithAdmin(ParseResult parse, Func<SchedulerAdminClient, AddressRotation, Task> action, CancellationToken cancellationToken) =>
        GuardAsync(
            parse,
            async () =>
            {
                using var addresses = GlobalOptions.Connect(parse);
                using var admin = GlobalOptions.CreateAdminClient(parse, addresses);
                await action(admin, addresses);
                return ExitCodes.Ok;
            },
            cancellationToken);

    /// <summary>Runs <paramref name="action"/> with a tenant client, guarded like every action; 0 unless it throws.</summary>
    public static Task<int> RunWithClient(ParseResult parse, Func<SchedulerClient, Task> action, CancellationToken cancellationToken) =>
        GuardAsync(
            parse,
            async () =>
            {
                using var addresses = GlobalOptions.Connect(parse);
                using var client = GlobalOptions.CreateClient(parse, addresses);
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
        // Every address tried is named with what it answered: the operator's next question is which silos are down
        // (the flag, $SCHEDULER_ADDRESS or the default said where to look).
        catch (SchedulerUnreachableException e)
        {
            await Console.Error.WriteLineAsync($"error: {e.StatusCode}: {e.Status.Detail}");
            return ExitCodes.RpcError;
        }
        // A refused field is told as the flag the user typed, not as the request's field.
        catch (RpcException e)
        {
            await Console.Error.WriteLineAsync($"error: {e.StatusCode}: {RequestFields.Named(e, e.Status.Detail, parse.CommandResult.Command) ?? SchedulerUnreachableException.Detail(e.Status)}");
            return ExitCodes.RpcError;
        }
        catch (Exception e)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            return ExitCodes.Failed;
        }
    }
}
