using System.Globalization;
using Scheduler.Protos.V1;
using Scheduler.Silo.Api;

namespace Scheduler.Silo.OpenAi;

/// <summary>
/// The scheduler's options on an OpenAI API request, which the OpenAI body has no fields for, read from its headers:
/// priority, deadline, TTFT objective, idempotency key, whether the job outlives a client that disconnects, and its session.
/// </summary>
internal sealed record SchedulerHeaders(Priority Priority, int DeadlineMs, int TtftObjectiveMs, string IdempotencyKey, bool KeepOnDisconnect, string SessionId)
{
    /// <summary>The headers' names.</summary>
    public static class Names
    {
        /// <summary><c>critical</c>, <c>standard</c> (the default) or <c>sheddable</c>.</summary>
        public const string Priority = "x-scheduler-priority";

        /// <summary>Milliseconds from acceptance by which the job must finish (SubmitJobRequest.deadline_ms).</summary>
        public const string DeadlineMs = "x-scheduler-deadline-ms";

        /// <summary>The job's time-to-first-token objective in milliseconds (SubmitJobRequest.ttft_objective_ms).</summary>
        public const string TtftObjectiveMs = "x-scheduler-ttft-objective-ms";

        /// <summary>A retry with the same key and request returns the same job (SubmitJobRequest.idempotency_key).</summary>
        public const string IdempotencyKey = "Idempotency-Key";

        /// <summary><c>true</c>: the job runs on when the client disconnects; by default it is cancelled, unless the request
        /// has an <see cref="IdempotencyKey"/>.</summary>
        public const string KeepOnDisconnect = "x-scheduler-keep-on-disconnect";

        /// <summary>The conversation the job belongs to, for replica affinity (SubmitJobRequest.session_id).</summary>
        public const string SessionId = "x-session-id";

        /// <summary>The job's id on every response, for GetJob, schedctl and the admin API.</summary>
        public const string JobId = "x-scheduler-job-id";
    }

    public static SchedulerHeaders Read(IHeaderDictionary headers)
    {
        var keys = headers[Names.IdempotencyKey];
        if (keys.Count > 1)
        {
            // Read as one, the values would join into a key "a,b" that neither sender meant.
            throw SchedulerErrors.InvalidArgument(Names.IdempotencyKey, $"must be sent once, got {keys.Count} values");
        }

        var idempotencyKey = keys.ToString();
        return new(
            headers[Names.Priority].ToString().ToLowerInvariant() switch
            {
                "" or "standard" => Protos.V1.Priority.Standard,
                "critical" => Protos.V1.Priority.Critical,
                "sheddable" => Protos.V1.Priority.Sheddable,
                var other => throw SchedulerErrors.InvalidArgument(Names.Priority, $"must be critical, standard or sheddable, got '{SchedulerErrors.Echo(other)}'"),
            },
            Int(headers, Names.DeadlineMs),
            Int(headers, Names.TtftObjectiveMs),
            idempotencyKey,
            headers[Names.KeepOnDisconnect].ToString().ToLowerInvariant() switch
            {
                // A request with a key is one its client means to retry (the OpenAI SDKs retry a timeout with the same
                // headers): its job runs on, so the retry gets it rather than a job the disconnect cancelled.
                "" => idempotencyKey.Length > 0,
                "false" => false,
                "true" => true,
                var other => throw SchedulerErrors.InvalidArgument(Names.KeepOnDisconnect, $"must be true or false, got '{SchedulerErrors.Echo(other)}'"),
            },
            headers[Names.SessionId].ToString());
    }

    public void ApplyTo(SubmitJobRequest request)
    {
        request.Priority = Priority;
        request.DeadlineMs = DeadlineMs;
        request.TtftObjectiveMs = TtftObjectiveMs;
        request.IdempotencyKey = IdempotencyKey;
        request.SessionId = SessionId;
    }

    private static int Int(IHeaderDictionary headers, string name)
    {
        var text = headers[name].ToString();
        if (text.Length == 0)
        {
            return 0;
        }

        // Ranges are the submission validator's to check, under the header's name (OpenAiErrors maps it).
        if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }

        throw SchedulerErrors.InvalidArgument(name, long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _)
            ? $"must be at most {int.MaxValue} milliseconds, got {SchedulerErrors.Echo(text)}"
            : $"must be a whole number of milliseconds, got '{SchedulerErrors.Echo(text)}'");
    }
}
