namespace Scheduler.Simulator;

/// <summary>The check every input file's path gets before it is read, so an empty option or a folder is refused in
/// words rather than by the runtime's exception (an <see cref="ArgumentException"/>'s stack trace, or "Access to the
/// path is denied" for a folder).</summary>
internal static class InputFile
{
    /// <summary>Returns <paramref name="path"/>; throws <see cref="InvalidDataException"/> naming <paramref name="option"/>
    /// when it is empty, or the path when it is a folder.</summary>
    public static string Check(string path, string option) =>
        string.IsNullOrWhiteSpace(path) ? throw new InvalidDataException($"{option}: no file given")
        : Directory.Exists(path) ? throw new InvalidDataException($"{path}: a folder, not a file")
        : path;
}
