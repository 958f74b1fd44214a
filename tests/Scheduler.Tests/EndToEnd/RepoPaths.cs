namespace Scheduler.Tests.EndToEnd;

internal static class RepoPaths
{
    /// <summary>The repository root: the folder holding Scheduler.sln, found upwards from the test binaries.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>The worker node's built assembly, run as its own process (same configuration as the tests).</summary>
    public static string WorkerAssembly => Assembly("Scheduler.Worker");

    /// <summary>schedctl's built assembly (project Scheduler.Cli).</summary>
    public static string SchedctlAssembly => Assembly("Scheduler.Cli", "schedctl");

    /// <summary>A built project's assembly under src/, in the tests' own configuration.</summary>
    public static string Assembly(string project, string? assemblyName = null)
    {
        var configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;
        var path = Path.Combine(Root, "src", project, "bin", configuration, "net10.0", (assemblyName ?? project) + ".dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"Build the solution first: {project} runs as its own process.", path);
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Scheduler.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Scheduler.sln not found above " + AppContext.BaseDirectory);
    }
}
