using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Scheduler.Silo.Api;

/// <summary>
/// The admin keys this silo accepts, read through <see cref="IOptionsMonitor{TOptions}"/> and from
/// <see cref="ApiOptions.AdminKeyFile"/> (re-read every <see cref="ApiOptions.AdminKeyFileRefreshSeconds"/>), so the
/// admin key rotates without a restart: add the new key, move the admins to it, remove the old one. Each key is
/// known by a fingerprint (<c>admin:</c> and 12 hex digits of its SHA-256), which the audit log names as the actor.
/// </summary>
internal sealed partial class AdminKeys(IOptionsMonitor<ApiOptions> options, TimeProvider time, ILogger<AdminKeys> logger)
{
    private readonly Lock _gate = new();
    private (ApiOptions Options, DateTimeOffset ReadAt, Accepted[] Keys)? _current;
    private string[] _fileKeys = [];

    /// <summary>The fingerprint of <paramref name="presented"/> if it is an admin key, else null.</summary>
    public string? Match(string presented)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        string? match = null;
        foreach (var key in Current())
        {
            // Every key is compared, so the time taken does not tell which one matched.
            if (CryptographicOperations.FixedTimeEquals(hash, key.Hash))
            {
                match = key.Fingerprint;
            }
        }

        return match;
    }

    /// <summary>How the audit log names the holder of <paramref name="key"/>.</summary>
    public static string Fingerprint(string key) =>
        "admin:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..12];

    private Accepted[] Current()
    {
        var now = time.GetUtcNow();
        var o = options.CurrentValue;
        lock (_gate)
        {
            if (_current is { } c && ReferenceEquals(c.Options, o) &&
                (o.AdminKeyFile is null || now - c.ReadAt < TimeSpan.FromSeconds(o.AdminKeyFileRefreshSeconds)))
            {
                return c.Keys;
            }

            if (o.AdminKeyFile is { Length: > 0 } path)
            {
                _fileKeys = ReadFile(path) ?? _fileKeys;
            }

            var keys = (o.AdminKeyFile is { Length: > 0 } ? _fileKeys : [o.AdminApiKey])
                .Concat(o.AdminApiKeys)
                .Where(k => !string.IsNullOrWhiteSpace(k))
                .Distinct(StringComparer.Ordinal)
                .Select(k => new Accepted(SHA256.HashData(Encoding.UTF8.GetBytes(k)), Fingerprint(k)))
                .ToArray();
            _current = (o, now, keys);
            return keys;
        }
    }

    // Null keeps the keys last read: a file caught half-written or briefly missing (a Secret's volume swapping its
    // data link) must not lock the admins out.
    private string[]? ReadFile(string path)
    {
        try
        {
            var keys = File.ReadAllLines(path)
                .Select(line => line.Trim())
                .Where(line => line.Length > 0 && !line.StartsWith('#'))
                .ToArray();
            if (keys.Length == 0)
            {
                LogEmptyKeyFile(logger, path);
                return null;
            }

            return keys;
        }
        catch (IOException e)
        {
            LogUnreadableKeyFile(logger, path, e.Message);
            return null;
        }
        catch (UnauthorizedAccessException e)
        {
            LogUnreadableKeyFile(logger, path, e.Message);
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Admin key file {Path} holds no key; the keys read before stay in force")]
    private static partial void LogEmptyKeyFile(ILogger logger, string path);

    [LoggerMessage(Level = LogLevel.Error, Message = "Admin key file {Path} cannot be read ({Reason}); the keys read before stay in force")]
    private static partial void LogUnreadableKeyFile(ILogger logger, string path, string reason);

    private sealed record Accepted(byte[] Hash, string Fingerprint);
}
