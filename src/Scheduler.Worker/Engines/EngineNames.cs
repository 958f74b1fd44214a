namespace Scheduler.Worker.Engines;

/// <summary>The engines a replica can run, as named in settings and in <c>NodeDescription.engine</c>.</summary>
internal static class EngineNames
{
    public const string Simulated = "simulated";
    public const string Llama = "llama";
    public const string Upstream = "upstream";
}
