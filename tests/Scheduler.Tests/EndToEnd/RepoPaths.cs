namespace Scheduler.Tests.EndToEnd;

internal static class RepoPaths
{
    /// <summary>The repository root: the folder holding Scheduler.sln, found upwards from the test binaries.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>The worker node's built assembly, run as its own process (same configuration as the tests).</summary>
    public static string WorkerAssembly
    {
        get
        {
            var configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;
            var path = Path.Combine(Root, "src", "Scheduler.Worker", "bin", configuration, "net10.0", "Scheduler.Worker.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException("Build the solution first: the worker node runs as its own process.", path);
        }
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
