using Scheduler.Bench.Restart;

// A silo's restart under a deep queue, live (docs/scaling.md, "A silo's restart under a deep queue"): per run a fresh
// redis-server and standalone scheduler in Redis mode, --jobs queued over --tenants behind the cordoned simulated
// fleet, the silo killed (SIGKILL) and started again on the same Redis; it prints what clients and nodes saw during
// the rebuild and the lost and duplicated jobs once the uncordoned fleet ran them all. Build first:
//   dotnet build src/Scheduler.Standalone -c Release
//   dotnet run -c Release --project bench/Scheduler.Bench.Restart -- --jobs 50000 --tenants 50 --runs 3
RestartBenchSettings settings;
try
{
    settings = RestartBenchSettings.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine($"bench: {ex.Message}");
    return 2;
}

for (var run = 1; run <= settings.Runs; run++)
{
    await RestartRun.RunAsync(settings, run);
}

return 0;
