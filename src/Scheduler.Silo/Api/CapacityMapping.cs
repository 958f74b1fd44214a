using System.Globalization;
using Scheduler.Abstractions.Placement;
using Proto = Scheduler.Protos.V1;

namespace Scheduler.Silo.Api;

/// <summary>A placement's capacity signal to its wire message, with each pool's reason in words.</summary>
internal static class CapacityMapping
{
    public static Proto.ModelCapacitySignal ToProto(this CapacitySnapshot c, string model)
    {
        var message = new Proto.ModelCapacitySignal
        {
            Model = model,
            WindowSeconds = c.WindowSeconds,
            PromptTokensPerSecond = c.PromptTokensPerSecond,
            OutputTokensPerSecond = c.OutputTokensPerSecond,
            QueuedPromptTokens = c.QueuedPromptTokens,
            QueuedOutputTokens = c.QueuedOutputTokens,
            PeakPromptTokensPerSecond = c.PeakPromptTokensPerSecond,
            PeakLookbackSeconds = c.PeakLookbackSeconds,
        };
        if (!double.IsNaN(c.Attainment))
        {
            message.TtftAttainment = c.Attainment;
        }

        message.Pools.AddRange(c.Pools.Select(p => new Proto.PoolCapacity
        {
            Pool = p.Pool,
            Product = p.Product,
            Replicas = p.Replicas,
            WantedReplicas = p.WantedReplicas,
            MaxReplicas = p.MaxReplicas,
            BusyReplicas = p.BusyReplicas,
            TargetUtilisation = p.TargetUtilisation,
            ColdStartSeconds = p.ColdStartSeconds,
            Metered = p.Metered,
            Reason = Reason(c, p),
        }));
        return message;
    }

    /// <summary>Why the pool wants what it wants, from the same inputs the policy read.</summary>
    internal static string Reason(CapacitySnapshot c, PoolCapacity p)
    {
        var inv = CultureInfo.InvariantCulture;
        if (p.Metered)
        {
            return string.Create(inv, $"metered (paid per token): not provisioned, keeps its {p.Replicas}");
        }

        var direction = p.WantedReplicas > p.Replicas ? "scale up" : p.WantedReplicas < p.Replicas ? "scale down" : "hold";
        var idle = c.PromptTokensPerSecond <= 0 && c.OutputTokensPerSecond <= 0 && c.QueuedPromptTokens <= 0 && c.QueuedOutputTokens <= 0;
        if (idle)
        {
            return string.Create(inv, $"{direction}: idle (nothing submitted in the last {c.WindowSeconds:0.#} s, nothing queued)")
                + (p.WantedReplicas > 0 ? string.Create(inv, $"; keeps a warm floor of {p.WantedReplicas}") : "");
        }

        if (p.BusyReplicas <= 0)
        {
            return $"{direction}: cheaper pools per unit of load take it all";
        }

        var headroom = double.IsNaN(c.Attainment) ? "" : string.Create(inv, $"; recent TTFT attainment {c.Attainment * 100:0.#}%");
        var burst = c.PeakPromptTokensPerSecond > c.PromptTokensPerSecond
            ? string.Create(inv, $"; prefill sized for {c.PeakPromptTokensPerSecond:0.#} prompt tok/s, what the last {c.PeakLookbackSeconds:0} s's bursts needed to meet their TTFT objectives")
            : "";
        return string.Create(inv,
            $"{direction}: {p.BusyReplicas:0.##} replicas busy for {c.PromptTokensPerSecond:0.#} prompt + {c.OutputTokensPerSecond:0.#} output tok/s and {c.QueuedPromptTokens + c.QueuedOutputTokens} queued tokens over a {p.ColdStartSeconds:0} s cold start, at {p.TargetUtilisation * 100:0}% utilisation{burst}{headroom}")
            + (p.WantedReplicas == p.MaxReplicas ? string.Create(inv, $" (capped at {p.MaxReplicas})") : "");
    }
}
