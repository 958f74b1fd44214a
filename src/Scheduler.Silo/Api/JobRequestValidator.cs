using System.Text;
using Scheduler.Abstractions.Jobs;
using Scheduler.Policies;
using Scheduler.Protos.V1;
using Scheduler.Silo.Models;

namespace Scheduler.Silo.Api;

/// <summary>Checks a submission field by field and counts its prompt; every rejection names the field. The prompt plus
/// max_tokens must fit the model's context (its <c>MaxContextTokens</c> in the model catalog, <c>Scheduler:Models</c>)
/// and the KV cache of the model's largest replica (<see cref="ModelCapacity"/>).</summary>
internal sealed class JobRequestValidator(ModelCatalog models, ModelCapacity capacity, TimeProvider time)
{
    private const int MaxDeadlineMs = 86_400_000;
    private const int MaxIdempotencyKeyLength = 256;
    private const int MaxStopLength = 256;
    private const int MaxStopTexts = 4;
    private const float MaxTemperature = 2;

    public async ValueTask<JobRequest> Validate(SubmitJobRequest request, string? traceParent)
    {
        var job = ValidateFields(request, traceParent);

        // Valid for the model, but if no replica the scheduler has can ever hold it, it would wait in the queue for good:
        // FAILED_PRECONDITION, since it may pass once a larger replica registers.
        var needed = (long)job.PromptTokens + job.MaxTokens;
        if (await capacity.LargestKvCacheTokens(job.Model) is { } largest && needed > largest)
        {
            throw SchedulerErrors.FailedPrecondition(
                $"prompt: {job.PromptTokens} prompt tokens + max_tokens {job.MaxTokens} need {needed} tokens of KV cache, and the largest " +
                $"replica of model '{job.Model}' holds {largest}; shorten the prompt or lower max_tokens");
        }

        return job;
    }

    private JobRequest ValidateFields(SubmitJobRequest request, string? traceParent)
    {
        if (string.IsNullOrWhiteSpace(request.Model))
        {
            throw SchedulerErrors.InvalidArgument("model", "is required");
        }

        if (!models.TryGet(request.Model, out var model))
        {
            throw SchedulerErrors.NotFound("model", request.Model);
        }

        var hasText = request.Prompt.Length > 0;
        var hasIds = request.PromptTokenIds.Count > 0;
        if (hasText == hasIds)
        {
            throw SchedulerErrors.InvalidArgument("prompt", hasText ? "set prompt or prompt_token_ids, not both" : "must not be empty (set prompt or prompt_token_ids)");
        }

        if (hasText && Encoding.UTF8.GetByteCount(request.Prompt) > model.Options.MaxPromptBytes)
        {
            throw SchedulerErrors.InvalidArgument("prompt", $"is larger than {model.Options.MaxPromptBytes} bytes");
        }

        if (hasText && PromptRuns.Longest(request.Prompt) > PromptRuns.MaxRunLength)
        {
            throw SchedulerErrors.InvalidArgument("prompt", $"has a run of more than {PromptRuns.MaxRunLength} characters without a change of letters, digits, spaces or symbols");
        }

        if (hasIds && request.PromptTokenIds.Any(id => id < 0))
        {
            throw SchedulerErrors.InvalidArgument("prompt_token_ids", "must not contain negative ids");
        }

        var promptTokens = hasText ? model.CountTokens(request.Prompt) : request.PromptTokenIds.Count;
        if (promptTokens == 0)
        {
            throw SchedulerErrors.InvalidArgument("prompt", "has no tokens");
        }

        var maxOutput = model.Options.MaxOutputTokens;
        if (request.MaxTokens <= 0 || request.MaxTokens > maxOutput)
        {
            throw SchedulerErrors.InvalidArgument("max_tokens", $"must be between 1 and {maxOutput} for model '{model.Name}', got {request.MaxTokens}");
        }

        if (promptTokens + request.MaxTokens > model.Options.MaxContextTokens)
        {
            throw SchedulerErrors.InvalidArgument("prompt", $"{promptTokens} prompt tokens + max_tokens {request.MaxTokens} exceed the model's context of {model.Options.MaxContextTokens} tokens");
        }

        if (request.TtftObjectiveMs < 0)
        {
            throw SchedulerErrors.InvalidArgument("ttft_objective_ms", "must not be negative");
        }

        if (request.DeadlineMs is < 0 or > MaxDeadlineMs)
        {
            throw SchedulerErrors.InvalidArgument("deadline_ms", $"must be between 0 (none) and {MaxDeadlineMs} (a day), got {request.DeadlineMs}");
        }

        if (request.IdempotencyKey.Length > MaxIdempotencyKeyLength)
        {
            throw SchedulerErrors.InvalidArgument("idempotency_key", $"is longer than {MaxIdempotencyKeyLength} characters");
        }

        if (request.Stop.Length > MaxStopLength)
        {
            throw SchedulerErrors.InvalidArgument("stop", $"is longer than {MaxStopLength} characters");
        }

        ValidateStopSequences(request);
        var sampling = Sampling(request);

        var priority = request.Priority switch
        {
            Protos.V1.Priority.Unspecified or Protos.V1.Priority.Standard => JobPriority.Standard,
            Protos.V1.Priority.Critical => JobPriority.Critical,
            Protos.V1.Priority.Sheddable => JobPriority.Sheddable,
            _ => throw SchedulerErrors.InvalidArgument("priority", $"unknown value {(int)request.Priority}"),
        };

        return new JobRequest(
            model.Name,
            hasText ? request.Prompt : null,
            hasIds ? [.. request.PromptTokenIds] : null,
            promptTokens,
            request.MaxTokens,
            priority,
            request.TtftObjectiveMs > 0 ? request.TtftObjectiveMs : model.Options.DefaultTtftObjectiveMs,
            request.IdempotencyKey.Length > 0 ? request.IdempotencyKey : null,
            request.Stop.Length > 0 ? request.Stop : null,
            traceParent,
            request.DeadlineMs > 0 ? time.GetUtcNow().AddMilliseconds(request.DeadlineMs) : null,
            sampling,
            request.StopSequences.Count > 0 ? [.. request.StopSequences] : null);
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

        if (request.StopSequences.Any(s => s.Length > MaxStopLength))
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
