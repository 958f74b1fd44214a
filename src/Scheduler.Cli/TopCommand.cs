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
        var frames = new Option<int>("--iterations", "-n") { Description = "Print this many frames, then exit (default: until q or Ctrl+C)" };
        var interval = new Option<double>("--interval")
        {
            Description = "Seconds between frames",
            DefaultValueFactory = _ => 2,
        };
        interval.Within(0.1, 3600, "between 0.1 and 3600 seconds");
        frames.Within(0, int.MaxValue, "0 or more");
        var output = Output.Create();
        var command = new Command("top", "Watch queues, running batches, accelerators and TTFT attainment live") { once, frames, interval, output };
        Actions.SetAdminAction(command, async (admin, parse, cancellationToken) =>
        {
            var count = parse.GetValue(once) ? 1 : parse.GetValue(frames);
            var every = TimeSpan.FromSeconds(parse.GetValue(interval));
            var format = parse.GetRequiredValue(output);
            var live = !Console.IsOutputRedirected && format != Output.Json && count != 1;
            using var quit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var keys = Console.IsInputRedirected || count == 1 ? Task.CompletedTask : QuitOnQ(quit);
            try
            {
                for (var n = 0; count == 0 || n < count; n++)
                {
                    if (n > 0)
                    {
                        await Task.Delay(every, quit.Token);
                    }

                    var frame = await TopFrame.Fetch(admin, quit.Token);
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
            finally
            {
                await quit.CancelAsync();
                await keys;
            }
        });
        root.Add(command);
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
