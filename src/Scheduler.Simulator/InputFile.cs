namespace Scheduler.Simulator;

/// <summary>The check every input file's path gets before it is read, so an empty option, a folder or a missing file is
/// refused in words rather than by the runtime's exception (an <see cref="ArgumentException"/>'s stack trace, "Access
/// to the path is denied" for a folder, or "Could not find a part of the path" naming neither the option nor, for a
/// relative path such as a default, the folder it was read from).</summary>
internal static class InputFile
{
    /// <summary>Returns <paramref name="path"/>; throws <see cref="InvalidDataException"/> naming <paramref name="option"/>
    /// when it is empty, or the path when it is a folder or no file.</summary>
    public static string Check(string path, string option) =>
        string.IsNullOrWhiteSpace(path) ? throw new InvalidDataException($"{option}: no file given")
        : Directory.Exists(path) ? throw new InvalidDataException($"{path}: a folder, not a file")
        : !File.Exists(path) ? throw new InvalidDataException($"{option}: no such file: {path}{(FromWhere(path) is { } from ? $" ({from})" : "")}")
        : path;

    /// <summary>For a relative path, the folder it was read from: the defaults (sim/fleets/hetero.json, ../shared/traces)
    /// are relative to the repository's root, and a binary run from elsewhere misses them. Null for an absolute path.</summary>
    public static string? FromWhere(string path) =>
        Path.IsPathRooted(path) ? null : $"a relative path, read from the current folder {Environment.CurrentDirectory}";
}
