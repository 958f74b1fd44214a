using System.CommandLine;

namespace Scheduler.Cli;

/// <summary>The ids commands take as their argument, each made once here: the same name, description and request field
/// (<see cref="RequestFields"/>) wherever a command takes it.</summary>
internal static class IdArguments
{
    public static Argument<string> Job() => new Argument<string>("job-id") { Description = "The job's id" }.Fills("job_id");

    public static Argument<string> Tenant() => new Argument<string>("tenant-id") { Description = "The tenant's id" }.Fills("tenant_id");

    public static Argument<string> Node() =>
        new Argument<string>("node-id") { Description = "The worker node's id (the NODE column of schedctl accelerators)" }.Fills("node_id");
}
