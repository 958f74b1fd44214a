using System.Security.Cryptography;
using System.Text;
using Scheduler.Abstractions.Jobs;

namespace Scheduler.Grains.Tenants;

/// <summary>
/// What an idempotency key is bound to: a hash of every field of a request that decides what the job does — model,
/// prompt (text, token ids or chat messages), max tokens (the client's, or that it sent none: not the default it got), priority, TTFT objective, stop texts and sampling. A resubmission with the key is a
/// retry only if its fingerprint is the same. The trace context differs on every attempt, and the deadline is relative
/// to each attempt's arrival (so a retry's absolute deadline differs too): neither is part of it. Nor is the session id:
/// it only steers placement (prefix-cache affinity) and does not change what the job computes.
/// </summary>
internal static class RequestFingerprint
{
    public static string Of(JobRequest request)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
        {
            // Length-prefixed strings and a marker for absent fields: no two different requests write the same bytes.
            writer.Write(request.Model);
            WriteOptional(writer, request.Prompt);
            writer.Write(request.PromptTokenIds?.Length ?? -1);
            foreach (var id in request.PromptTokenIds ?? [])
            {
                writer.Write(id);
            }

            // The messages, not only their rendering: the same text from other turns is another request to an engine
            // that renders with a template of its own.
            writer.Write(request.Messages?.Length ?? -1);
            foreach (var message in request.Messages ?? [])
            {
                writer.Write(message.Role);
                writer.Write(message.Content);
            }

            // A default max_tokens (the client sent none) is not of the request as sent: the front door fitted it to the
            // KV cache of the model's largest replica, which a retry after a node joined or was lost finds otherwise.
            writer.Write(request.FitMaxTokens ? 0 : request.MaxTokens);
            writer.Write((int)request.Priority);
            writer.Write(request.TtftObjectiveMs);
            WriteOptional(writer, request.Stop);
            writer.Write(request.StopSequences?.Length ?? -1);
            foreach (var stop in request.StopSequences ?? [])
            {
                writer.Write(stop);
            }

            var sampling = request.Sampling;
            WriteOptional(writer, sampling?.Temperature);
            WriteOptional(writer, sampling?.TopP);
            writer.Write(sampling?.TopK is { } topK);
            writer.Write(sampling?.TopK ?? 0);
            writer.Write(sampling?.Seed is { } seed);
            writer.Write(sampling?.Seed ?? 0);

            // Last, and only when set, so the fingerprints of keys stored before the flag existed stay as they were: a
            // request without max_tokens is not the one that sent the same number.
            if (request.FitMaxTokens)
            {
                writer.Write(true);
            }
        }

        return Convert.ToBase64String(SHA256.HashData(buffer.GetBuffer().AsSpan(0, (int)buffer.Length)));
    }

    private static void WriteOptional(BinaryWriter writer, string? value)
    {
        writer.Write(value is not null);
        writer.Write(value ?? "");
    }

    private static void WriteOptional(BinaryWriter writer, float? value)
    {
        writer.Write(value is not null);
        writer.Write(value ?? 0f);
    }
}
