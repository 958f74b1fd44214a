using System.CommandLine;
using Scheduler.Client;
using Scheduler.Protos.V1;
using FieldMask = Google.Protobuf.WellKnownTypes.FieldMask;

namespace Scheduler.Cli;

/// <summary>Admin commands on tenants: list them, show one, create or update one.</summary>
internal static class TenantCommands
{
    public static readonly Listing<Tenant> Tenants = new(
        new("TENANT", t => t.TenantId),
        new("WEIGHT", t => Format.Number(t.Weight, 2)),
        new("MAX QUEUED", t => Format.OrDash((t.Quotas ?? new()).MaxQueuedJobs)),
        new("REQ/MIN", t => Format.OrDash((t.Quotas ?? new()).RequestsPerMinute)),
        new("TOK/MIN", t => Format.OrDash((t.Quotas ?? new()).TokensPerMinute)),
        new("QUEUED", t => Format.Number(t.QueuedJobs)),
        new("RUNNING", t => Format.Number(t.RunningJobs)),
        new("PROMPT TOK", t => Format.Number((t.Usage ?? new()).PromptTokens), WideOnly: true),
        new("COMPL TOK", t => Format.Number((t.Usage ?? new()).CompletionTokens), WideOnly: true),
        new("COST", t => Format.Usd((t.Usage ?? new()).CostUsd)),
        new("JOBS", t => Format.Number((t.Usage ?? new()).JobsSubmitted)),
        new("DONE", t => Format.Number((t.Usage ?? new()).JobsCompleted)),
        new("FAILED", t => Format.Number((t.Usage ?? new()).JobsFailed)),
        new("CANCELLED", t => Format.Number((t.Usage ?? new()).JobsCancelled), WideOnly: true),
        new("EXPIRED", t => Format.Number((t.Usage ?? new()).JobsExpired), WideOnly: true));

    /// <summary>Adds <c>tenants</c> and <c>tenant get|put</c> to <paramref name="root"/>.</summary>
    public static void AddTo(RootCommand root)
    {
        root.Add(List());
        root.Add(new Command("tenant", "Show, create or update a tenant") { Get(), Put() });
    }

    // Every tenant, following the API's pages (unlike `jobs`, which shows one page: a fleet's tenants are few enough to
    // print, and `tenants -o json | jq` wants them all); --page-token starts from a page a script stopped at.
    private static Command List()
    {
        var pageSize = new Option<int>("--page-size") { Description = "Tenants asked for per call (1..5000; omitted: the API's default, 5000)" }.Fills("page_size");
        pageSize.Within(1, 5_000, "between 1 and 5000");
        var pageToken = new Option<string>("--page-token") { Description = "Start from the page a previous ListTenants' next_page_token names" }.Fills("page_token");
        return ListingCommands.Listed("tenants", "List tenants by id with their weights, quotas, queues and usage (every page)", Tenants,
            (admin, parse, cancellationToken) => admin.ListAllTenantsAsync(
                new ListTenantsRequest { PageSize = parse.GetValue(pageSize), PageToken = parse.GetValue(pageToken) ?? "" },
                cancellationToken: cancellationToken),
            pageSize, pageToken);
    }

    private static Command Get()
    {
        var id = IdArguments.Tenant();
        return ListingCommands.Single("get", "Show a tenant", Tenants,
            (admin, parse, cancellationToken) => admin.GetTenantAsync(parse.GetRequiredValue(id), cancellationToken: cancellationToken), id);
    }

    private static Command Put()
    {
        var id = IdArguments.Tenant();
        var weight = new Option<double>("--weight") { Description = "Share of service among backlogged tenants (0.001 to 1000; omitted: kept, 1 for a new tenant)" }.Fills("weight");

        // The API reads a weight of 0 as "unset" and stores 1 (proto3's default): refuse it here rather than turn a
        // tenant's weight into 1 without a word. The range is the API's (PutTenantRequest.weight).
        weight.Within(0.001, 1000, "a number from 0.001 to 1000");
        var apiKey = new Option<string>("--api-key") { Description = "New API key for the tenant (omitted: kept)" }.Fills("api_key");
        var maxQueued = new Option<int>("--max-queued") { Description = "Maximum jobs queued at once (0: the default; omitted: kept)" }.Fills("quotas.max_queued_jobs");
        var requestsPerMinute = new Option<int>("--requests-per-minute") { Description = "Submissions per minute (0: no limit; omitted: kept)" }.Fills("quotas.requests_per_minute");
        var tokensPerMinute = new Option<long>("--tokens-per-minute") { Description = "Prompt + max tokens per minute (0: no limit; omitted: kept)" }.Fills("quotas.tokens_per_minute");
        return ListingCommands.Single("put", "Create or update a tenant", Tenants, async (admin, parse, cancellationToken) =>
        {
            // Only what is given changes, in one call (update_mask): without the mask PutTenant replaces every setting,
            // and a weight change would quietly lift the quotas set before (an outside probe found
            // `tenant put --weight 3` did).
            var request = new PutTenantRequest
            {
                TenantId = parse.GetRequiredValue(id),
                Weight = parse.GetValue(weight),
                ApiKey = parse.GetValue(apiKey) ?? "",
                Quotas = new TenantQuotas
                {
                    MaxQueuedJobs = parse.GetValue(maxQueued),
                    RequestsPerMinute = parse.GetValue(requestsPerMinute),
                    TokensPerMinute = parse.GetValue(tokensPerMinute),
                },
                UpdateMask = new FieldMask(),
            };
            Mask(weight);
            Mask(apiKey);
            Mask(maxQueued);
            Mask(requestsPerMinute);
            Mask(tokensPerMinute);
            return await admin.PutTenantAsync(request, cancellationToken: cancellationToken);

            void Mask(Option option)
            {
                if (parse.GetResult(option) is not null)
                {
                    request.UpdateMask.Paths.Add(RequestFields.Of(option));
                }
            }
        }, id, weight, apiKey, maxQueued, requestsPerMinute, tokensPerMinute);
    }
}
