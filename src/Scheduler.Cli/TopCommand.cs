using System.CommandLine;
using Grpc.Core;

namespace Scheduler.Cli;

/// <summary><c>schedctl top</c>: the cluster, refreshed until <c>q</c> or Ctrl+C. On a terminal each frame replaces the
/// last; otherwise (or with <c>--once</c> / <c>-n</c>) frames follow one another, so scripts and tests can read them.</summary>
internal static class TopCommand
{
    private const string ClearScreen = "\u001b[H\u001b[2J";

    public static void AddTo(RootCommand root)
    {
        var once = new Option<bool>("--once") { Description = "Print one frame and exit (same as -n 1)" };
        var frames = new Option<int>("--iterations", "-n") { Description = "Print this many frames, then exit (0, the default: until q or Ctrl+C)" };
        var interval = new Option<double>("--interval")
        {
            Description = "Seconds between frames",
            DefaultValueFactory = _ => 2,
        };
        interval.Within(0.1, 3600, "between 0.1 and 3600 seconds");
        frames.Within(0, int.MaxValue, "0 or more");
        var output = Output.Create();
        var command = new Command("top", "Watch queues, running batches, accelerators and TTFT attainment live") { once, frames, interval, output };
        Actions.SetAdminAction(command, async (admin, addresses, parse, cancellationToken) =>
        {
            var count = parse.GetValue(once) ? 1 : parse.GetValue(frames);
            var every = TimeSpan.FromSeconds(parse.GetValue(interval));
            var format = parse.GetRequiredValue(output);
            var live = !Console.IsOutputRedirected && format != Output.Json && count != 1;
            using var quit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            using var piped = Console.IsOutputRedirected ? new PipedStdout() : null;
            var keys = Console.IsInputRedirected || count == 1 ? Task.CompletedTask : QuitOnQ(quit);
            SchedulerUnreachableException? down = null;
            try
            {
                for (var n = 0; count == 0 || n < count; n++)
                {
                    if (n > 0)
                    {
                        await Task.Delay(every, quit.Token);
                    }

                    TopFrame frame;
                    try
                    {
                        frame = await TopFrame.Fetch(admin, addresses, quit.Token);
                        down = null;
                    }
                    catch (SchedulerUnreachableException e) when (count != 1 && !quit.IsCancellationRequested)
                    {
                        // A live view outlasts its silos: it says none answers and tries again at the next refresh, on
                        // every address (one frame is a question, answered with the error).
                        down = e;
                        ShowDown(e, format, live, n, Refresh(n, count, every), more: count == 0 || n < count - 1);
                        continue;
                    }

                    if (format == Output.Json)
                    {
                        Console.WriteLine(frame.ToJson());
                        continue;
                    }

                    Console.Write(live ? ClearScreen : n > 0 ? Environment.NewLine : "");
                    frame.Print(format, Refresh(n, count, every));
                }
            }
            catch (Exception e) when (quit.IsCancellationRequested && e is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled })
            {
                // q or Ctrl+C: the normal way out.
            }
            catch (IOException) when (piped is not null)
            {
                // The reader of the frames went away (`schedctl top | head`): nothing more can be shown, so it ends as q
                // does, whatever the last frame found.
                down = null;
            }
            finally
            {
                await quit.CancelAsync();
                await keys;
            }

            // A counted run whose last frame found no silo ends as any failed command does.
            if (down is not null && !cancellationToken.IsCancellationRequested)
            {
                throw down;
            }
        });
        root.Add(command);
    }

    // In place of a frame: when, that no address answered (each named with its error), and that it keeps trying. As JSON
    // the frames' stream stays frames: the status goes to stderr.
    private static void ShowDown(SchedulerUnreachableException e, string format, bool live, int n, string refresh, bool more)
    {
        var at = Format.Time(DateTime.UtcNow);
        if (format == Output.Json)
        {
            Console.Error.WriteLine($"schedctl top  {at}  no scheduler answered{(more ? ", trying again" : "")}: {e.Status.Detail}");
            return;
        }

        Console.Write(live ? ClearScreen : n > 0 ? Environment.NewLine : "");
        Console.WriteLine($"schedctl top  {at}  no scheduler answered{refresh}");
        Console.WriteLine($"unavailable: {e.Status.Detail}");
        if (more)
        {
            Console.WriteLine("trying every address again at the next refresh");
        }
    }

    // One frame says nothing of refreshing; a counted run says where it is; an endless one how to leave.
    private static string Refresh(int n, int count, TimeSpan every) => count switch
    {
        1 => "",
        0 => $"  every {every.TotalSeconds:0.#}s  (q or Ctrl+C quits)",
        _ => $"  frame {n + 1} of {count}, every {every.TotalSeconds:0.#}s",
    };

    private static Task QuitOnQ(CancellationTokenSource quit) => Task.Run(async () =>
    {
        while (!quit.IsCancellationRequested)
        {
            if (Console.KeyAvailable && Console.ReadKey(intercept: true).KeyChar is 'q' or 'Q')
            {
                await quit.CancelAsync();
                return;
            }

            try
            {
                await Task.Delay(100, quit.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    });
}
