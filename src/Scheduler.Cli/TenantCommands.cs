using System.CommandLine;
using Scheduler.Protos.V1;

namespace Scheduler.Cli;

/// <summary>Admin commands on tenants: list them, show one, create or update one.</summary>
internal static class TenantCommands
{
    /// <summary>Adds <c>tenants</c> and <c>tenant get|put</c> to <paramref name="root"/>.</summary>
    public static void AddTo(RootCommand root)
    {
        var list = new Command("tenants", "List tenants with their weights, quotas, queues and usage");
        Actions.SetAdminAction(list, async (admin, _, cancellationToken) =>
            Print(await admin.ListTenantsAsync(cancellationToken: cancellationToken)));

        root.Add(list);
        root.Add(new Command("tenant", "Show, create or update a tenant") { Get(), Put() });
    }

    private static Command Get()
    {
        var id = TenantIdArgument();
        var command = new Command("get", "Show a tenant") { id };
        Actions.SetAdminAction(command, async (admin, parse, cancellationToken) =>
            Print([await admin.GetTenantAsync(parse.GetRequiredValue(id), cancellationToken: cancellationToken)]));
        return command;
    }

    private static Command Put()
    {
        var id = TenantIdArgument();
        var weight = new Option<double>("--weight")
        {
            Description = "Share of service among backlogged tenants (> 0)",
            Required = true,
        };
        var apiKey = new Option<string>("--api-key") { Description = "New API key for the tenant (omit to keep the current one)" };
        var maxQueued = new Option<int>("--max-queued") { Description = "Maximum jobs queued at once (0: the default)" };
        var requestsPerMinute = new Option<int>("--requests-per-minute") { Description = "Submissions per minute (0: no limit)" };
        var tokensPerMinute = new Option<long>("--tokens-per-minute") { Description = "Prompt + max tokens per minute (0: no limit)" };
        var command = new Command("put", "Create or update a tenant")
        {
            id, weight, apiKey, maxQueued, requestsPerMinute, tokensPerMinute,
        };
        Actions.SetAdminAction(command, async (admin, parse, cancellationToken) =>
        {
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
            };
            Print([await admin.PutTenantAsync(request, cancellationToken: cancellationToken)]);
        });
        return command;
    }

    private static Argument<string> TenantIdArgument() => new("tenant-id") { Description = "The tenant's id" };

    private static void Print(IReadOnlyList<Tenant> tenants)
    {
        var table = new Table(
            "TENANT", "WEIGHT", "MAX QUEUED", "REQ/MIN", "TOK/MIN", "QUEUED", "RUNNING",
            "PROMPT TOK", "COMPL TOK", "COST", "JOBS", "DONE", "FAILED", "CANCELLED", "EXPIRED");
        foreach (var tenant in tenants)
        {
            var quotas = tenant.Quotas ?? new TenantQuotas();
            var usage = tenant.Usage ?? new TenantUsage();
            table.Add(
                tenant.TenantId,
                Format.Number(tenant.Weight, 2),
                Format.OrDash(quotas.MaxQueuedJobs),
                Format.OrDash(quotas.RequestsPerMinute),
                Format.OrDash(quotas.TokensPerMinute),
                Format.Number(tenant.QueuedJobs),
                Format.Number(tenant.RunningJobs),
                Format.Number(usage.PromptTokens),
                Format.Number(usage.CompletionTokens),
                Format.Usd(usage.CostUsd),
                Format.Number(usage.JobsSubmitted),
                Format.Number(usage.JobsCompleted),
                Format.Number(usage.JobsFailed),
                Format.Number(usage.JobsCancelled),
                Format.Number(usage.JobsExpired));
        }

        table.Print();
    }
}
