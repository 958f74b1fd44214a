using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Deploy;

/// <summary>
/// A container image's application folder (<c>/app</c>, its working directory) on disk: a copy of a project's build
/// output with the container's mounted files written over it, as the chart mounts the silo's appsettings.json over
/// the image's. A copy, not the build output itself: other tests run the same binaries with their own settings.
/// </summary>
internal static class ImageFolder
{
    /// <summary>Where the images put the application (deploy/docker/*.Dockerfile: <c>WORKDIR /app</c>).</summary>
    public const string AppFolder = "/app/";

    /// <summary>Creates the folder; the caller deletes it. A mount outside <see cref="AppFolder"/> cannot be mapped and throws.</summary>
    public static string Create(string project, IReadOnlyDictionary<string, string> mountedFiles)
    {
        var source = Path.GetDirectoryName(RepoPaths.Assembly(project))!;
        var folder = Directory.CreateTempSubdirectory("scheduler-image-").FullName;
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(folder, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        foreach (var (path, content) in mountedFiles)
        {
            if (!path.StartsWith(AppFolder, StringComparison.Ordinal))
            {
                throw new NotSupportedException($"the container mounts {path}, outside {AppFolder}: this test cannot place it");
            }

            var target = Local(folder, path);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.WriteAllText(target, content);
        }

        return folder;
    }

    /// <summary>Where <paramref name="containerPath"/>, a path under <see cref="AppFolder"/>, is in <paramref name="folder"/>.</summary>
    public static string Local(string folder, string containerPath) => Path.Combine(folder, containerPath[AppFolder.Length..]);
}
