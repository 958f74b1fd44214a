using System.Globalization;
using System.Text.Json.Serialization;
using Scheduler.Policies.Admission;
using Scheduler.Policies.Profiles;

namespace Scheduler.Simulator.Fleet;

/// <summary>A group of identical accelerators. Prices and limits left out come from the built-in profile; those given
/// replace it, as a worker's <c>Worker:Accelerators:*:Price*</c> settings do.</summary>
/// <param name="Product">Built-in profile name (H100, A100, L40S, L4, LPU).</param>
/// <param name="Count">Accelerators (one replica each); required, at least 1, at most <see cref="MaxCount"/>.</param>
/// <param name="Pricing">Hourly or metered; required (no default: the two bill differently), and must agree with the
/// prices in force.</param>
/// <param name="MaxSequences">Overrides the profile's slots: a metered endpoint's concurrency limit; at most
/// <see cref="MaxSlots"/>.</param>
/// <param name="KvCapacityTokens">Overrides the profile's KV cache; at most <see cref="MaxKvTokens"/>.</param>
/// <param name="PricePerHourUsd">Overrides the profile's hourly price.</param>
/// <param name="PricePerMillionInputTokensUsd">Overrides the profile's metered input price.</param>
/// <param name="PricePerMillionOutputTokensUsd">Overrides the profile's metered output price.</param>
/// <param name="RequestsPerMinute">A metered endpoint's request rate limit (RPM), over any 60 s window.</param>
/// <param name="TokensPerMinute">A metered endpoint's token rate limit (TPM: prompt plus requested output tokens),
/// over any 60 s window.</param>
internal sealed record NodeSpec(
    [property: JsonRequired] string Product,
    [property: JsonRequired] int Count,
    [property: JsonRequired] PricingMode Pricing,
    int? MaxSequences = null,
    long? KvCapacityTokens = null,
    double? PricePerHourUsd = null,
    double? PricePerMillionInputTokensUsd = null,
    double? PricePerMillionOutputTokensUsd = null,
    int? RequestsPerMinute = null,
    int? TokensPerMinute = null)
{
    /// <summary>The most accelerators a group may count: and a fleet's groups together (<see cref="FleetSpec"/>): the simulator
    /// models each replica (about 1.5 KB). 100,000 replicas replayed the code trace in 1.2 s; a count of 10⁸ ran for
    /// minutes building them until memory ran out.</summary>
    public const int MaxCount = 100_000;

    /// <summary>The most slots a replica may have: the simulator keeps per-slot state, and a profile's are 128–256.</summary>
    public const int MaxSlots = 4096;

    /// <summary>The largest KV cache a replica may have, in tokens (a profile's is 60,000–1,000,000).</summary>
    public const long MaxKvTokens = 1_000_000_000;

    /// <summary>The highest price a field may give, per hour or per million tokens (the profiles' are $0.05–$12.29):
    /// a higher one is a typo, and an infinite one would make every cost infinite.</summary>
    public const double MaxPriceUsd = 1000;

    /// <summary>The built-in profile with this group's prices and limits; throws on an unknown product.</summary>
    public AcceleratorProfile Profile()
    {
        if (!AcceleratorProfiles.TryGet(Product, out var profile))
        {
            throw new InvalidDataException($"Unknown accelerator product '{Quoted.Text(Product)}'. Known: {string.Join(", ", AcceleratorProfiles.All.Keys)}");
        }

        return profile with
        {
            MaxSequences = MaxSequences ?? profile.MaxSequences,
            KvCapacityTokens = KvCapacityTokens ?? profile.KvCapacityTokens,
            PricePerHourUsd = PricePerHourUsd ?? profile.PricePerHourUsd,
            PricePerMillionInputTokensUsd = PricePerMillionInputTokensUsd ?? profile.PricePerMillionInputTokensUsd,
            PricePerMillionOutputTokensUsd = PricePerMillionOutputTokensUsd ?? profile.PricePerMillionOutputTokensUsd,
        };
    }

    /// <summary>A limiter for one endpoint of this group, as the worker's upstream engine keeps; null without limits.</summary>
    public UpstreamLimiter? Limiter(TimeProvider clock) => UpstreamLimiter.IfLimited(RequestsPerMinute ?? 0, TokensPerMinute ?? 0, clock);

    private bool HasRateLimits => RequestsPerMinute is not null || TokensPerMinute is not null;

    /// <summary>What is wrong with the group, naming the field; null when nothing is.</summary>
    public string? Error()
    {
        if (string.IsNullOrWhiteSpace(Product) || !AcceleratorProfiles.TryGet(Product, out _))
        {
            return $"product: '{Quoted.Text(Product)}' is not one of {string.Join(", ", AcceleratorProfiles.All.Keys)}";
        }

        if (Count is < 1 or > MaxCount)
        {
            return string.Create(CultureInfo.InvariantCulture, $"count must be at least 1 and at most {MaxCount:#,0}, not {Count:#,0}");
        }

        if (MaxSequences < 1 || KvCapacityTokens < 1 || RequestsPerMinute < 1 || TokensPerMinute < 1)
        {
            return "maxSequences, kvCapacityTokens, requestsPerMinute and tokensPerMinute must be at least 1 when given";
        }

        if (MaxSequences > MaxSlots || KvCapacityTokens > MaxKvTokens)
        {
            return string.Create(CultureInfo.InvariantCulture, $"maxSequences must be at most {MaxSlots:#,0} and kvCapacityTokens at most {MaxKvTokens:#,0}");
        }

        double?[] prices = [PricePerHourUsd, PricePerMillionInputTokensUsd, PricePerMillionOutputTokensUsd];
        if (prices.Any(p => p is { } price && !(price >= 0 && price <= MaxPriceUsd)))
        {
            return string.Create(CultureInfo.InvariantCulture,
                $"pricePerHourUsd, pricePerMillionInputTokensUsd and pricePerMillionOutputTokensUsd must be between 0 and {MaxPriceUsd:#,0} US dollars");
        }

        // The pricing mode is stated so a reader sees it; the prices in force must agree with it, and a group paid one
        // way has no price of the other kind (it would be charged twice, or the cost model would misread it).
        var profile = Profile();
        var metered = profile.PricePerMillionInputTokensUsd > 0 || profile.PricePerMillionOutputTokensUsd > 0;
        if (Pricing == PricingMode.Metered && (!metered || profile.PricePerHourUsd > 0))
        {
            return $"pricing is metered, so it needs a price per million input or output tokens and no pricePerHourUsd (in force: {Prices(profile)})";
        }

        if (Pricing == PricingMode.Hourly && metered)
        {
            return $"pricing is hourly, so it has no per-token price (in force: {Prices(profile)})";
        }

        if (Pricing == PricingMode.Hourly && HasRateLimits)
        {
            return "requestsPerMinute and tokensPerMinute are a metered endpoint's limits; an hourly accelerator has none";
        }

        return null;
    }

    /// <summary>"2×H100", an hourly group with the price and limits its file sets ("2×H100 at $4/h (64 slots)": two
    /// groups of one product must read apart), or a metered group with its limits.</summary>
    public string Summary()
    {
        var metered = Pricing == PricingMode.Metered;
        var limits = new List<string>();
        if (metered)
        {
            limits.Add("metered");
        }

        if (MaxSequences is { } s)
        {
            limits.Add(metered ? $"{s} concurrent" : $"{s} slots");
        }

        if (KvCapacityTokens is { } kv && !metered)
        {
            limits.Add(string.Create(CultureInfo.InvariantCulture, $"{kv:#,0} KV tokens"));
        }

        if (RequestsPerMinute is { } rpm)
        {
            limits.Add(string.Create(CultureInfo.InvariantCulture, $"{rpm:#,0} req/min"));
        }

        if (TokensPerMinute is { } tpm)
        {
            limits.Add(string.Create(CultureInfo.InvariantCulture, $"{tpm:#,0} tok/min"));
        }

        var price = PricePerHourUsd is { } perHour ? string.Create(CultureInfo.InvariantCulture, $" at ${perHour}/h") : "";
        return $"{Count}×{Product}{price}{(limits.Count == 0 ? "" : $" ({string.Join(", ", limits)})")}";
    }

    private static string Prices(AcceleratorProfile p) => string.Create(CultureInfo.InvariantCulture,
        $"${p.PricePerHourUsd}/h, ${p.PricePerMillionInputTokensUsd}/M in, ${p.PricePerMillionOutputTokensUsd}/M out");
}
