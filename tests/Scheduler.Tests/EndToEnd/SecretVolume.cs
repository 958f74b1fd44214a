using System.Runtime.InteropServices;

namespace Scheduler.Tests.EndToEnd;

/// <summary>
/// A folder laid out as the kubelet mounts a Secret: each key (<c>tls.crt</c>) a symlink into <c>..data</c>, itself a
/// symlink to a folder holding this version's files. An update writes the next version's folder and swaps
/// <c>..data</c> to it in one rename, as Kubernetes' atomic writer does: the keys' own links never change.
/// </summary>
internal sealed class SecretVolume
{
    private const string Data = "..data";
    private int _version;

    public SecretVolume(string folder, params (string Key, string Content)[] files)
    {
        Folder = folder;
        Directory.CreateDirectory(folder);
        Update(files);
        foreach (var (key, _) in files)
        {
            File.CreateSymbolicLink(PathOf(key), Path.Combine(Data, key));
        }
    }

    public string Folder { get; }

    /// <summary>The keys of a <c>kubernetes.io/tls</c> Secret holding <paramref name="issued"/>'s files.</summary>
    public static (string Key, string Content)[] TlsPair((string CertificatePath, string KeyPath) issued) =>
        [("tls.crt", File.ReadAllText(issued.CertificatePath)), ("tls.key", File.ReadAllText(issued.KeyPath))];

    /// <summary>Where a process is told the key's file is, e.g. /tls/tls.crt.</summary>
    public string PathOf(string key) => Path.Combine(Folder, key);

    /// <summary>Replaces every key's content at once.</summary>
    public void Update(params (string Key, string Content)[] files)
    {
        var version = $"..v{++_version}";
        Directory.CreateDirectory(Path.Combine(Folder, version));
        foreach (var (key, content) in files)
        {
            File.WriteAllText(Path.Combine(Folder, version, key), content);
        }

        var next = Path.Combine(Folder, Data + "_tmp");
        File.CreateSymbolicLink(next, version);

        // rename(2) over the old link: a reader sees the old version or the new one, never a mix. (File.Move and
        // Directory.Move take a link to a folder for the folder, and neither replaces one.)
        if (Rename(next, Path.Combine(Folder, Data)) != 0)
        {
            throw new IOException($"rename to {Data} failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [DllImport("libc", EntryPoint = "rename", SetLastError = true)]
    private static extern int Rename([MarshalAs(UnmanagedType.LPUTF8Str)] string from, [MarshalAs(UnmanagedType.LPUTF8Str)] string to);
}
