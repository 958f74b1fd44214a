using System.Text;
using Scheduler.Abstractions.Jobs;
using Scheduler.Policies;
using Scheduler.Protos.V1;
using Scheduler.Silo.Models;

namespace Scheduler.Silo.Api;

/// <summary>Checks a submission field by field and counts its prompt; every rejection names the field. A chat's messages
/// are rendered into the prompt by the model's chat template (<see cref="ChatTemplate"/>) and counted as text. The prompt plus
/// max_tokens must fit the model's context (its <c>MaxContextTokens</c> in the model catalog, <c>Scheduler:Models</c>)
/// and the KV cache of the model's largest replica (<see cref="ModelCapacity"/>).</summary>
internal sealed class JobRequestValidator(ModelCatalog models, ModelCapacity capacity, TimeProvider time)
{
    private const int MaxDeadlineMs = 86_400_000;
    /// <summary>The longest identifier a client names something by: an idempotency key, a session, and on the OpenAI
    /// door its <c>user</c> and <c>x-request-id</c>. Far above a UUID's 36 characters or a hashed user id's 64; each is
    /// kept with the job or put on its trace span, so none is unbounded. One limit for all, over either door.</summary>
    public const int MaxIdentifierLength = 256;
    private const int MaxStopLength = 256;
    private const int MaxStopTexts = 4;
    private const float MaxTemperature = 2;

    /// <summary>Most turns in a chat: far above a real conversation's, and each costs a little to check and render.</summary>
    private const int MaxMessages = 1024;

    private static readonly string RunTooLong =
        $"has a run of more than {PromptRuns.MaxRunLength} characters without a change of letters, digits, spaces or symbols";

    /// <summary>The roles a chat turn may have (the OpenAI door also takes "developer", its name for "system").</summary>
    public static readonly string[] ChatRoles = ["system", "user", "assistant", "tool"];

    /// <param name="request">The submission.</param>
    /// <param name="traceParent">The submit span's W3C id, for the job's trace.</param>
    /// <param name="fitMaxTokens">The client set no max_tokens (an OpenAI request without it): its default is lowered to
    /// what the context and the largest replica's KV cache leave after the prompt, as OpenAI's API and vLLM do, rather
    /// than a long prompt refused for a limit its client never asked for; the job keeps the flag
    /// (<see cref="JobRequest.FitMaxTokens"/>), so its tenant lowers it to its tokens_per_minute quota too.</param>
    public async ValueTask<JobRequest> Validate(SubmitJobRequest request, string? traceParent, bool fitMaxTokens = false)
    {
        var job = ValidateFields(request, traceParent, fitMaxTokens);

        // Valid for the model, but if no replica the scheduler has can ever hold it, it would wait in the queue for good:
        // FAILED_PRECONDITION, since it may pass once a larger replica registers.
        var limits = await capacity.Limits(job.Model);
        if (limits is { } served && (served.Forms & job.PromptForms) == 0)
        {
            var field = job.PromptTokenIds is { Length: > 0 } ? "prompt_token_ids" : "prompt";
            throw SchedulerErrors.FailedPrecondition(
                "PROMPT_FORM",
                field,
                $"{field}: the replicas of model '{job.Model}' take the prompt only as {Describe(served.Forms)} (a chat-only endpoint, say); send it so");
        }

        var largest = limits?.MaxJobTokens;
        if (fitMaxTokens && largest is { } room && job.PromptTokens < room && job.PromptTokens + job.MaxTokens > room)
        {
            job = job with { MaxTokens = (int)Math.Min(job.MaxTokens, room - job.PromptTokens) };
        }

        var needed = (long)job.PromptTokens + job.MaxTokens;
        if (largest is { } kv && needed > kv)
        {
            var field = job.Messages is null ? "prompt" : "messages";
            throw SchedulerErrors.OverContext(SchedulerErrors.FailedPrecondition(
                "KV_CACHE_CAPACITY",
                field,
                $"{field}: {job.PromptTokens} prompt tokens + max_tokens {job.MaxTokens} need {needed} tokens of KV cache, and the most " +
                $"a replica of model '{job.Model}' takes is {kv} (its KV cache, one sequence's context, or a metered endpoint's tokens per minute); shorten the prompt or lower max_tokens"));
        }

        return job;
    }

    private static string Describe(PromptForms forms) => string.Join(" or ", new[]
    {
        (PromptForms.Text, "text"), (PromptForms.Messages, "chat messages"), (PromptForms.TokenIds, "token ids"), (PromptForms.Length, "a length"),
    }.Where(f => forms.HasFlag(f.Item1)).Select(f => f.Item2));

    private JobRequest ValidateFields(SubmitJobRequest request, string? traceParent, bool fitMaxTokens)
    {
        if (string.IsNullOrWhiteSpace(request.Model))
        {
            throw SchedulerErrors.InvalidArgument("model", "is required");
        }

        if (!models.TryGet(request.Model, out var model))
        {
            throw SchedulerErrors.NotFound("model", request.Model);
        }

        var (prompt, promptTokens, messages) = ValidatePrompt(request, model);

        var maxOutput = model.Options.MaxOutputTokens;
        if (request.MaxTokens <= 0 || request.MaxTokens > maxOutput)
        {
            throw SchedulerErrors.InvalidArgument("max_tokens", $"must be between 1 and {maxOutput} for model '{model.Name}', got {request.MaxTokens}");
        }

        var maxTokens = fitMaxTokens ? Math.Min(request.MaxTokens, Math.Max(1, model.Options.MaxContextTokens - promptTokens)) : request.MaxTokens;
        if (promptTokens + maxTokens > model.Options.MaxContextTokens)
        {
            // A client that set no max_tokens is not told of one: the prompt alone leaves no room.
            throw SchedulerErrors.OverContext(SchedulerErrors.InvalidArgument(
                messages is null ? "prompt" : "messages",
                fitMaxTokens
                    ? $"{promptTokens} prompt tokens leave no room to generate in the model's context of {model.Options.MaxContextTokens} tokens"
                    : $"{promptTokens} prompt tokens + max_tokens {maxTokens} exceed the model's context of {model.Options.MaxContextTokens} tokens"));
        }

        if (request.TtftObjectiveMs < 0)
        {
            throw SchedulerErrors.InvalidArgument("ttft_objective_ms", "must not be negative");
        }

        if (request.DeadlineMs is < 0 or > MaxDeadlineMs)
        {
            throw SchedulerErrors.InvalidArgument("deadline_ms", $"must be between 0 (none) and {MaxDeadlineMs} (a day), got {request.DeadlineMs}");
        }

        if (Characters.MoreThan(request.IdempotencyKey, MaxIdentifierLength))
        {
            throw SchedulerErrors.InvalidArgument("idempotency_key", $"is longer than {MaxIdentifierLength} characters");
        }

        // One rule for both doors: a key sent over gRPC can be sent again over HTTP, and the same key compares alike.
        if (PresentableKeys.Refused(request.IdempotencyKey) is { } refused)
        {
            throw SchedulerErrors.InvalidArgument("idempotency_key", $"{PresentableKeys.IdempotencyKeyRule}; got U+{refused.Value:X4}");
        }

        if (Characters.MoreThan(request.SessionId, MaxIdentifierLength))
        {
            throw SchedulerErrors.InvalidArgument("session_id", $"is longer than {MaxIdentifierLength} characters");
        }

        if (Characters.MoreThan(request.Stop, MaxStopLength))
        {
            throw SchedulerErrors.InvalidArgument("stop", $"is longer than {MaxStopLength} characters");
        }

        ValidateStopSequences(request);
        var sampling = Sampling(request);

        var priority = ProtoMapping.FromProto(request.Priority, "priority") ?? JobPriority.Standard;

        return new JobRequest(
            model.Name,
            prompt,
            request.PromptTokenIds.Count > 0 ? [.. request.PromptTokenIds] : null,
            promptTokens,
            maxTokens,
            priority,
            request.TtftObjectiveMs > 0 ? request.TtftObjectiveMs : model.Options.DefaultTtftObjectiveMs,
            request.IdempotencyKey.Length > 0 ? request.IdempotencyKey : null,
            request.Stop.Length > 0 ? request.Stop : null,
            traceParent,
            request.DeadlineMs > 0 ? time.GetUtcNow().AddMilliseconds(request.DeadlineMs) : null,
            sampling,
            request.StopSequences.Count > 0 ? [.. request.StopSequences] : null,
            messages,
            request.SessionId.Length > 0 ? request.SessionId : null,
            fitMaxTokens);
    }

    private static void ValidateTokenIds(Google.Protobuf.Collections.RepeatedField<int> ids, int vocabularySize)
    {
        for (var i = 0; i < ids.Count; i++)
        {
            if (ids[i] < 0)
            {
                throw SchedulerErrors.InvalidArgument("prompt_token_ids", "must not contain negative ids");
            }

            // Unchecked (0), an engine would take the id and fail the job once it ran (llama.cpp) or run it on text it
            // never had (the simulated engine).
            if (vocabularySize > 0 && ids[i] >= vocabularySize)
            {
                throw SchedulerErrors.InvalidArgument(
                    "prompt_token_ids", FormattableString.Invariant($"id {ids[i]} (at {i}) is outside the model's vocabulary of {vocabularySize:N0} ids"));
            }
        }
    }

    /// <summary>The prompt's text (a chat rendered by the model's template), its token count, and the chat's turns.</summary>
    private static (string? Prompt, int Tokens, JobMessage[]? Messages) ValidatePrompt(SubmitJobRequest request, ModelEntry model)
    {
        var hasText = request.Prompt.Length > 0;
        var hasIds = request.PromptTokenIds.Count > 0;
        var hasMessages = request.Messages.Count > 0;
        var given = (hasText ? 1 : 0) + (hasIds ? 1 : 0) + (hasMessages ? 1 : 0);
        if (given != 1)
        {
            throw SchedulerErrors.InvalidArgument(
                "prompt", given == 0 ? "must not be empty (set prompt, prompt_token_ids or messages)" : "set exactly one of prompt, prompt_token_ids and messages");
        }

        if (hasIds)
        {
            ValidateTokenIds(request.PromptTokenIds, model.Options.VocabularySize);
            return (null, request.PromptTokenIds.Count, null);
        }

        var messages = hasMessages ? ValidateMessages(request.Messages) : null;
        var field = hasMessages ? "messages" : "prompt";
        var prompt = messages is null ? request.Prompt : model.ChatTemplate.Render(messages);
        if (Encoding.UTF8.GetByteCount(prompt) > model.Options.MaxPromptBytes)
        {
            throw SchedulerErrors.InvalidArgument(field, $"is larger than {model.Options.MaxPromptBytes} bytes{(hasMessages ? " once rendered" : "")}");
        }

        if (!hasMessages && PromptRuns.Longest(prompt) > PromptRuns.MaxRunLength)
        {
            throw SchedulerErrors.InvalidArgument("prompt", RunTooLong);
        }

        var tokens = model.CountTokens(prompt);
        return tokens == 0 ? throw SchedulerErrors.InvalidArgument(field, "has no tokens") : (prompt, tokens, messages);
    }

    private static JobMessage[] ValidateMessages(Google.Protobuf.Collections.RepeatedField<ChatMessage> messages)
    {
        if (messages.Count > MaxMessages)
        {
            throw SchedulerErrors.InvalidArgument("messages", $"at most {MaxMessages} messages are allowed, got {messages.Count}");
        }

        var turns = new JobMessage[messages.Count];
        for (var i = 0; i < messages.Count; i++)
        {
            var (role, content) = (messages[i].Role, messages[i].Content);
            if (!ChatRoles.Contains(role))
            {
                throw SchedulerErrors.InvalidArgument($"messages[{i}].role", $"must be one of {string.Join(", ", ChatRoles)}, got '{SchedulerErrors.Echo(role)}'");
            }

            if (PromptRuns.Longest(content) > PromptRuns.MaxRunLength)
            {
                throw SchedulerErrors.InvalidArgument($"messages[{i}].content", RunTooLong);
            }

            turns[i] = new JobMessage(role, content);
        }

        // Any turn may be empty, as OpenAI's API and vLLM take it: clients send an empty system prompt, or keep an
        // assistant turn that said nothing in the history. A chat whose every turn is empty gives the model nothing
        // to answer but its template's role markers.
        if (turns.All(t => t.Content.Length == 0))
        {
            throw SchedulerErrors.InvalidArgument("messages", "every message's content is empty: at least one must have text");
        }

        return turns;
    }

    private static void ValidateStopSequences(SubmitJobRequest request)
    {
        var count = request.StopSequences.Count + (request.Stop.Length > 0 ? 1 : 0);
        if (count > MaxStopTexts)
        {
            throw SchedulerErrors.InvalidArgument("stop_sequences", $"with stop, at most {MaxStopTexts} stop texts are allowed, got {count}");
        }

        if (request.StopSequences.Any(s => s.Length == 0))
        {
            throw SchedulerErrors.InvalidArgument("stop_sequences", "must not contain an empty text");
        }

        if (request.StopSequences.Any(s => Characters.MoreThan(s, MaxStopLength)))
        {
            throw SchedulerErrors.InvalidArgument("stop_sequences", $"has a text longer than {MaxStopLength} characters");
        }
    }

    private static JobSampling? Sampling(SubmitJobRequest request)
    {
        // Written so that NaN fails too.
        if (request.HasTemperature && !(request.Temperature >= 0 && request.Temperature <= MaxTemperature))
        {
            throw SchedulerErrors.InvalidArgument("temperature", $"must be between 0 and {MaxTemperature}, got {request.Temperature}");
        }

        if (request.HasTopP && !(request.TopP > 0 && request.TopP <= 1))
        {
            throw SchedulerErrors.InvalidArgument("top_p", $"must be greater than 0 and at most 1, got {request.TopP}");
        }

        if (request.HasTopK && request.TopK < 0)
        {
            throw SchedulerErrors.InvalidArgument("top_k", $"must not be negative (0 keeps every token), got {request.TopK}");
        }

        if (!request.HasTemperature && !request.HasTopP && !request.HasTopK && !request.HasSeed)
        {
            return null;
        }

        return new JobSampling(
            request.HasTemperature ? request.Temperature : null,
            request.HasTopP ? request.TopP : null,
            request.HasTopK ? request.TopK : null,
            request.HasSeed ? request.Seed : null);
    }
}
