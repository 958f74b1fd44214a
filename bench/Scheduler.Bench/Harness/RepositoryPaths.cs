namespace Scheduler.Bench.Harness;

/// <summary>Where a bench writes its report: <c>dotnet run</c> starts the program in the project's directory, not
/// where the command was typed, so relative paths are taken from the repository root.</summary>
internal static class RepositoryPaths
{
    /// <summary><paramref name="path"/> as is when rooted, else under the repository root.</summary>
    public static string Resolve(string path) => Path.IsPathRooted(path) ? path : Path.GetFullPath(Path.Combine(Root(), path));

    /// <summary>The nearest directory holding Scheduler.sln above the current directory or the program; else the current directory.</summary>
    public static string Root()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Scheduler.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        return Environment.CurrentDirectory;
    }
}
