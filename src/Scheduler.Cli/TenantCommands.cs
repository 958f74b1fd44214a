using System.CommandLine;
using Grpc.Core;
using Scheduler.Client;
using Scheduler.Protos.V1;

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
        root.Add(ListingCommands.Listed("tenants", "List tenants with their weights, quotas, queues and usage", Tenants,
            (admin, _, cancellationToken) => admin.ListTenantsAsync(cancellationToken: cancellationToken)));
        root.Add(new Command("tenant", "Show, create or update a tenant") { Get(), Put() });
    }

    private static Command Get()
    {
        var id = TenantIdArgument();
        return ListingCommands.Single("get", "Show a tenant", Tenants,
            (admin, parse, cancellationToken) => admin.GetTenantAsync(parse.GetRequiredValue(id), cancellationToken: cancellationToken), id);
    }

    private static Command Put()
    {
        var id = TenantIdArgument();
        var weight = new Option<double>("--weight")
        {
            Description = "Share of service among backlogged tenants (0.001 to 1000)",
            Required = true,
        };

        // The API reads a weight of 0 as "unset" and stores 1 (proto3's default): refuse it here rather than turn a
        // tenant's weight into 1 without a word. The range is the API's (PutTenantRequest.weight).
        weight.Within(0.001, 1000, "a number from 0.001 to 1000");
        var apiKey = new Option<string>("--api-key") { Description = "New API key for the tenant (omit to keep the current one)" };
        var maxQueued = new Option<int>("--max-queued") { Description = "Maximum jobs queued at once (0: the default; omitted: kept as it is)" };
        var requestsPerMinute = new Option<int>("--requests-per-minute") { Description = "Submissions per minute (0: no limit; omitted: kept as it is)" };
        var tokensPerMinute = new Option<long>("--tokens-per-minute") { Description = "Prompt + max tokens per minute (0: no limit; omitted: kept as it is)" };
        return ListingCommands.Single("put", "Create or update a tenant", Tenants, async (admin, parse, cancellationToken) =>
        {
            var tenantId = parse.GetRequiredValue(id);

            // PutTenant replaces the quotas: a quota not given keeps the tenant's current one, or a weight change would
            // quietly lift the limits set before (an outside probe found `tenant put --weight 3` did).
            var current = parse.GetResult(maxQueued) is null || parse.GetResult(requestsPerMinute) is null || parse.GetResult(tokensPerMinute) is null
                ? await CurrentQuotas(admin, tenantId, cancellationToken)
                : null;
            var request = new PutTenantRequest
            {
                TenantId = tenantId,
                Weight = parse.GetValue(weight),
                ApiKey = parse.GetValue(apiKey) ?? "",
                Quotas = new TenantQuotas
                {
                    MaxQueuedJobs = GivenOr(maxQueued, current?.MaxQueuedJobs ?? 0),
                    RequestsPerMinute = GivenOr(requestsPerMinute, current?.RequestsPerMinute ?? 0),
                    TokensPerMinute = GivenOr(tokensPerMinute, current?.TokensPerMinute ?? 0),
                },
            };
            return await admin.PutTenantAsync(request, cancellationToken: cancellationToken);

            T GivenOr<T>(Option<T> quota, T kept) => parse.GetResult(quota) is null ? kept : parse.GetValue(quota)!;
        }, id, weight, apiKey, maxQueued, requestsPerMinute, tokensPerMinute);
    }

    /// <summary>The tenant's quotas, or null for a tenant that does not exist yet.</summary>
    private static async Task<TenantQuotas?> CurrentQuotas(SchedulerAdminClient admin, string tenantId, CancellationToken cancellationToken)
    {
        try
        {
            return (await admin.GetTenantAsync(tenantId, cancellationToken: cancellationToken)).Quotas;
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            return null;
        }
    }

    private static Argument<string> TenantIdArgument() => new("tenant-id") { Description = "The tenant's id" };
}
