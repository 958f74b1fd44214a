using System.CommandLine;
using Scheduler.Protos.V1;

namespace Scheduler.Cli;

/// <summary>The tenant's commands: submit, get, watch and cancel jobs.</summary>
internal static class JobCommands
{
    private static readonly Dictionary<string, Priority> Priorities = new()
    {
        ["critical"] = Priority.Critical,
        ["standard"] = Priority.Standard,
        ["sheddable"] = Priority.Sheddable,
    };

    /// <summary>Adds the job commands to <paramref name="root"/>.</summary>
    public static void AddTo(RootCommand root)
    {
        root.Add(Submit());
        root.Add(Get());
        root.Add(Watch());
        root.Add(Cancel());
    }

    private static Command Submit()
    {
        var model = new Option<string>("--model") { Description = "Model name, e.g. llama-3.1-8b", Required = true }.Fills("model");
        var prompt = new Option<string>("--prompt") { Description = "The prompt text (or --message for a chat)" }.Fills("prompt");
        var messages = ChatMessageOption.Create().Fills("messages");
        var maxTokens = new Option<int>("--max-tokens")
        {
            Description = "Number of tokens to generate",
            DefaultValueFactory = _ => 64,
        }.Fills("max_tokens");
        var priority = new Option<string>("--priority")
        {
            Description = "Priority class",
            DefaultValueFactory = _ => "standard",
        }.Fills("priority");
        priority.AcceptOnlyFromAmong([.. Priorities.Keys]);
        var ttft = new Option<int>("--ttft-ms") { Description = "Time-to-first-token objective in ms (0: the model's default)" }.Fills("ttft_objective_ms");
        var deadline = new Option<int>("--deadline-ms")
        {
            Description = "Finish within this many ms of submission, or expire unrun (0: no deadline)",
        }.Fills("deadline_ms");
        var idempotencyKey = new Option<string>("--idempotency-key") { Description = "Resubmitting with the same key returns the same job" }.Fills("idempotency_key");
        var stop = new Option<string>("--stop") { Description = "Stop generating when this text appears" }.Fills("stop");
        var noStream = new Option<bool>("--no-stream") { Description = "Submit without streaming and print the job id" };

        // Sampling: sent only when given, so the engine's defaults apply otherwise (the simulated engine ignores them).
        var temperature = new Option<float?>("--temperature") { Description = "Sampling temperature, 0 to 2 (0: always the most likely token)" }.Fills("temperature");
        var topP = new Option<float?>("--top-p") { Description = "Nucleus sampling: keep the most likely tokens up to this probability mass, (0, 1]" }.Fills("top_p");
        var topK = new Option<int?>("--top-k") { Description = "Keep only the k most likely tokens (0: no limit)" }.Fills("top_k");
        var seed = new Option<ulong?>("--seed") { Description = "Sampling seed: the same seed gives the same text" }.Fills("seed");

        var command = new Command("submit", "Submit a job and stream its tokens to stdout; the summary goes to stderr")
        {
            model, prompt, messages, maxTokens, priority, ttft, deadline, idempotencyKey, stop, noStream, temperature, topP, topK, seed,
        };
        command.Validators.Add(result =>
        {
            var (hasPrompt, hasMessages) = (result.GetResult(prompt) is not null, result.GetResult(messages) is not null);
            if (hasPrompt == hasMessages)
            {
                result.AddError(hasPrompt
                    ? "Give --prompt or --message (repeatable for a chat), not both."
                    : "Give --prompt, or --message (repeatable) for a chat.");
            }
        });
        Actions.SetClientAction(command, async (client, addresses, parse, cancellationToken) =>
        {
            var request = new SubmitJobRequest
            {
                Model = parse.GetRequiredValue(model),
                Prompt = parse.GetValue(prompt) ?? "",
                Messages = { parse.GetValue(messages) ?? [] },
                MaxTokens = parse.GetValue(maxTokens),
                Priority = Priorities[parse.GetRequiredValue(priority)],
                TtftObjectiveMs = parse.GetValue(ttft),
                DeadlineMs = parse.GetValue(deadline),
                IdempotencyKey = parse.GetValue(idempotencyKey) ?? "",
                Stop = parse.GetValue(stop) ?? "",
            };
            if (parse.GetValue(temperature) is { } t)
            {
                request.Temperature = t;
            }

            if (parse.GetValue(topP) is { } p)
            {
                request.TopP = p;
            }

            if (parse.GetValue(topK) is { } k)
            {
                request.TopK = k;
            }

            if (parse.GetValue(seed) is { } s)
            {
                request.Seed = s;
            }

            if (parse.GetValue(noStream))
            {
                var job = await client.SubmitAsync(request, cancellationToken: cancellationToken);
                Console.WriteLine(job.JobId);
                return ExitCodes.Ok;
            }

            return await JobOutput.StreamAsync(
                tokens => new ResumingJobStream(client, addresses, tokens).SubmitAsync(request, cancellationToken));
        });
        return command;
    }

    private static Command Get()
    {
        var jobId = IdArguments.Job();
        var output = JobOutputOption();
        var command = new Command("get", "Show a job") { jobId, output };
        Actions.SetClientAction(command, async (client, parse, cancellationToken) =>
        {
            JobOutput.Print(await TenantKeyLookups.Explained(client.GetAsync(parse.GetRequiredValue(jobId), cancellationToken: cancellationToken)), parse.GetRequiredValue(output));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Watch()
    {
        var jobId = IdArguments.Job();
        var fromToken = new Option<int>("--from-token") { Description = "Index of the first token to print" }.Fills("from_token");
        var command = new Command("watch", "Attach to a job and stream its tokens to stdout; the summary goes to stderr")
        {
            jobId, fromToken,
        };
        Actions.SetClientAction(command, (client, addresses, parse, cancellationToken) => TenantKeyLookups.Explained(JobOutput.StreamAsync(
            tokens => new ResumingJobStream(client, addresses, tokens).WatchAsync(
                parse.GetRequiredValue(jobId), parse.GetValue(fromToken), cancellationToken))));
        return command;
    }

    private static Command Cancel()
    {
        var jobId = IdArguments.Job();
        var output = JobOutputOption();
        var command = new Command("cancel", "Cancel a queued or running job") { jobId, output };
        Actions.SetClientAction(command, async (client, parse, cancellationToken) =>
        {
            JobOutput.Print(await TenantKeyLookups.Explained(client.CancelAsync(parse.GetRequiredValue(jobId), cancellationToken: cancellationToken)), parse.GetRequiredValue(output));
            return ExitCodes.Ok;
        });
        return command;
    }

    // A job is one record: its fields one per line (table and wide alike), or the Job message as JSON.
    private static Option<string> JobOutputOption()
    {
        var output = Output.Create();
        output.Description = "Output format: table or wide (the job's fields, one per line), or json (the Job message)";
        return output;
    }
}
