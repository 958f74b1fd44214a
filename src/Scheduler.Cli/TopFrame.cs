using Scheduler.Client;
using Scheduler.Protos.V1;

namespace Scheduler.Cli;

/// <summary>One refresh of <c>schedctl top</c>: the admin API's views, fetched together.</summary>
internal sealed record TopFrame(
    DateTimeOffset At,
    string Address,
    ClusterSummary Summary,
    IReadOnlyList<Model> Models,
    IReadOnlyList<Tenant> Tenants,
    IReadOnlyList<Replica> Replicas,
    IReadOnlyList<Accelerator> Accelerators)
{
    // A cluster with thousands of tenants still fits a screen: the busiest are shown, the rest are counted.
    private const int MaxTenantsShown = 15;

    // So does a fleet of hundreds of replicas: 50 nodes of 8 accelerators printed 400 rows a frame, which a terminal
    // scrolled past before the next redraw. The busiest are shown, the rest counted; `schedctl replicas` lists them all.
    private const int MaxReplicasShown = 20;
    private static readonly string[] AcceleratorStates = ["ready", "draining", "cordoned", "lost"];

    // The tenants listed are the busy ones (a server from before busy_only lists them all): the others are the summary's.
    private int IdleTenants(int busy) => Math.Max(0, Summary.Tenants - busy);

    /// <summary>Fetches the views; <paramref name="addresses"/> say which silo answered (the one calls go to after).</summary>
    public static async Task<TopFrame> Fetch(SchedulerAdminClient admin, AddressRotation addresses, CancellationToken cancellationToken)
    {
        var summary = admin.GetClusterSummaryAsync(cancellationToken: cancellationToken);
        var models = admin.ListModelsAsync(cancellationToken: cancellationToken);
        // Only the busy ones: listing every tenant asked each one's grain every frame, keeping every tenant activated.
        var tenants = admin.ListTenantsAsync(new ListTenantsRequest { BusyOnly = true }, cancellationToken: cancellationToken);
        var replicas = admin.ListReplicasAsync(cancellationToken: cancellationToken);
        var accelerators = admin.ListAcceleratorsAsync(cancellationToken: cancellationToken);
        return new TopFrame(DateTimeOffset.UtcNow, "", await summary, await models, (await tenants).Tenants, await replicas, await accelerators) with
        {
            Address = addresses.Current,
        };
    }

    /// <summary>The frame as one JSON object: <c>at</c>, <c>address</c> (the silo that answered), <c>summary</c>,
    /// <c>models</c>, <c>tenants</c> (the busy ones), <c>replicas</c>, <c>accelerators</c>, each as the admin API's messages
    /// (see <see cref="Output"/>).</summary>
    public string ToJson() =>
        "{" +
        $"\"at\":\"{At.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss.fff'Z'}\"," +
        $"\"address\":{System.Text.Json.JsonSerializer.Serialize(Address)}," +
        $"\"summary\":{Output.ToJson(Summary)}," +
        $"\"models\":{Output.ToJson(Models)}," +
        $"\"tenants\":{Output.ToJson(Tenants)}," +
        $"\"replicas\":{Output.ToJson(Replicas)}," +
        $"\"accelerators\":{Output.ToJson(Accelerators)}" +
        "}";

    /// <summary>Writes the frame as text: its header (<paramref name="refresh"/> says how frames follow, empty for one),
    /// totals, accelerators by state, then models, busy tenants and replicas.</summary>
    public void Print(string output, string refresh)
    {
        Console.WriteLine($"schedctl top  {Format.Time(At.UtcDateTime)}  {Address}{refresh}");
        var s = Summary;
        Console.WriteLine($"queued {s.QueuedJobs}  running {s.RunningJobs}  completed {s.CompletedJobs}  nodes {s.Nodes}  replicas {s.Replicas}  cost {Format.Usd(s.CostUsd)}");
        var byState = Accelerators.GroupBy(a => a.State).ToDictionary(g => g.Key, g => g.Count());
        var states = AcceleratorStates.Concat(byState.Keys.Except(AcceleratorStates).Order(StringComparer.Ordinal))
            .Select(state => $"{state} {byState.GetValueOrDefault(state)}");
        Console.WriteLine($"accelerators {Accelerators.Count}: {string.Join("  ", states)}");
        Console.WriteLine();

        FleetCommands.Models.Print(Models, output);
        Console.WriteLine();

        var busy = Tenants.Where(t => t.QueuedJobs + t.RunningJobs > 0)
            .OrderByDescending(t => t.QueuedJobs + t.RunningJobs).ThenBy(t => t.TenantId, StringComparer.Ordinal).ToList();
        TenantCommands.Tenants.Print([.. busy.Take(MaxTenantsShown)], output);
        Console.WriteLine(busy.Count > MaxTenantsShown
            ? $"(+{busy.Count - MaxTenantsShown} more busy tenants; {IdleTenants(busy.Count)} idle)"
            : $"({IdleTenants(busy.Count)} idle tenants)");
        Console.WriteLine();

        if (Replicas.Count <= MaxReplicasShown)
        {
            Batches.Print(Replicas, output);
            return;
        }

        // Busiest first; alike ones keep the listing's order (OrderBy is stable).
        var busiest = Replicas.OrderByDescending(r => r.RunningSequences).ToList();
        Batches.Print([.. busiest.Take(MaxReplicasShown)], output);
        var rest = busiest[MaxReplicasShown..];
        var running = rest.Count(r => r.RunningSequences > 0);
        Console.WriteLine($"(+{rest.Count} more replicas: {running} running, {rest.Count - running} idle; schedctl replicas lists them all)");
    }

    /// <summary>Running batches per replica: occupancy, KV use and speed.</summary>
    private static readonly Listing<Replica> Batches = new(
        new("REPLICA", r => r.ReplicaId),
        new("MODEL", r => r.Model),
        new("ACCELERATOR", r => r.AcceleratorId),
        new("STATE", r => r.State),
        new("OCCUPANCY", r => $"{r.RunningSequences}/{r.MaxSequences}"),
        new("OCC %", r => Format.Percent(r.MaxSequences == 0 ? 0 : (double)r.RunningSequences / r.MaxSequences)),
        // "-" where no engine reports: a lost node's last figures are not live ones.
        new("KV USED", r => !r.EngineReporting ? "-" : Format.Percent(r.KvCapacityTokens == 0 ? 0 : (double)r.EngineKvTokensUsed / r.KvCapacityTokens)),
        new("KV RESERVED", r => Format.Percent(r.KvCapacityTokens == 0 ? 0 : (double)(r.KvCapacityTokens - r.FreeKvTokens) / r.KvCapacityTokens)),
        new("TOK/S", r => r.EngineReporting ? Format.Number(r.MeasuredOutputTokensPerSecond, 1) : "-"),
        new("NODE", r => r.NodeId, WideOnly: true),
        new("JOBS", r => r.RunningJobIds.Count == 0 ? "-" : string.Join(",", r.RunningJobIds), WideOnly: true));
}
