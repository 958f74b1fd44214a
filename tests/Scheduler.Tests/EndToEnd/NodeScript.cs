namespace Scheduler.Tests.EndToEnd;

/// <summary>A Node.js script under tests/ that drives the live scheduler as a client in another language would
/// (tests/openai-node, tests/grpc-node). Its npm packages are installed on first use from the folder's lock file (as
/// .ci/run also does); without node, npm or the registry the test fails: it never passes without having run the script.</summary>
/// <param name="folder">The script's folder under tests/.</param>
/// <param name="installedPackage">A package of the lock file whose presence in node_modules means the install ran.</param>
internal sealed class NodeScript(string folder, string installedPackage)
{
    private readonly string _folder = Path.Combine(RepoPaths.Root, "tests", folder);
    private readonly Lock _gate = new();
    private Task? _install;

    /// <summary>Runs <paramref name="script"/> with node to its end, after the packages are installed, and returns what it
    /// printed.</summary>
    public async Task<string> RunAsync(string script, IReadOnlyDictionary<string, string> environment, TimeSpan timeout)
    {
        await InstallOnce();
        return await Run("node", script, timeout, environment);
    }

    // Tests of one folder share the install; the first to ask runs it.
    private Task InstallOnce()
    {
        lock (_gate)
        {
            return _install ??= File.Exists(Path.Combine(_folder, "node_modules", installedPackage, "package.json"))
                ? Task.CompletedTask
                : Run("npm", "ci --no-audit --no-fund", TimeSpan.FromSeconds(180), new Dictionary<string, string>());
        }
    }

    private Task<string> Run(string command, string arguments, TimeSpan timeout, IReadOnlyDictionary<string, string> environment) =>
        BoundedProcess.RunToSuccessAsync(command, arguments, _folder, environment, timeout);
}
