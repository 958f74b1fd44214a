using System.CommandLine;
using Scheduler.Client;

namespace Scheduler.Cli;

/// <summary>Options every command takes: where the scheduler is and which credentials to present.</summary>
internal static class GlobalOptions
{
    private const string DefaultAddress = "http://127.0.0.1:5000";
    private const string DefaultKey = "dev-key";
    private const string DefaultAdminKey = "dev-admin-key";

    // Defaults are resolved when a command runs rather than in the options, so that help never prints a key.
    private static readonly Option<string> Address = new("--address")
    {
        Description = $"Scheduler address (default: $SCHEDULER_ADDRESS or {DefaultAddress})",
        Recursive = true,
    };

    private static readonly Option<string> Key = new("--key")
    {
        Description = $"Tenant API key (default: $SCHEDULER_API_KEY or {DefaultKey})",
        Recursive = true,
    };

    private static readonly Option<string> AdminKey = new("--admin-key")
    {
        Description = $"Admin key (default: $SCHEDULER_ADMIN_KEY or {DefaultAdminKey})",
        Recursive = true,
    };

    private static readonly Option<string> CaFile = new("--ca-file")
    {
        Description = "PEM file of the CA that signed an https:// scheduler's certificate (default: $SCHEDULER_CA_FILE, else the system's CAs)",
        Recursive = true,
    };

    /// <summary>Adds the options to the root command, for it and every subcommand.</summary>
    public static void AddTo(RootCommand root)
    {
        root.Add(Address);
        root.Add(Key);
        root.Add(AdminKey);
        root.Add(CaFile);
    }

    /// <summary>A tenant client for the parsed address, key and CA.</summary>
    public static SchedulerClient CreateClient(ParseResult parse) =>
        new(AddressOf(parse), Resolve(parse.GetValue(Key), "SCHEDULER_API_KEY", DefaultKey), CaFileOf(parse));

    /// <summary>An admin client for the parsed address, admin key and CA.</summary>
    public static SchedulerAdminClient CreateAdminClient(ParseResult parse) =>
        new(AddressOf(parse), Resolve(parse.GetValue(AdminKey), "SCHEDULER_ADMIN_KEY", DefaultAdminKey), CaFileOf(parse));

    private static string? CaFileOf(ParseResult parse)
    {
        var path = Resolve(parse.GetValue(CaFile), "SCHEDULER_CA_FILE", fallback: "");
        if (path.Length == 0)
        {
            return null;
        }

        // The client library would name its parameter; the user typed the option.
        return File.Exists(path) ? path : throw new ArgumentException($"--ca-file: the file '{path}' does not exist");
    }

    /// <summary>The scheduler address the command dials.</summary>
    /// <exception cref="ArgumentException">It is not an http:// or https:// URL.</exception>
    public static string AddressOf(ParseResult parse)
    {
        var address = Resolve(parse.GetValue(Address), "SCHEDULER_ADDRESS", DefaultAddress);
        return Uri.TryCreate(address, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? address
            : throw new ArgumentException($"the address must be an http:// or https:// URL, not '{address}'");
    }

    private static string Resolve(string? given, string environmentVariable, string fallback)
    {
        if (!string.IsNullOrEmpty(given))
        {
            return given;
        }

        var fromEnvironment = Environment.GetEnvironmentVariable(environmentVariable);
        return string.IsNullOrEmpty(fromEnvironment) ? fallback : fromEnvironment;
    }
}
