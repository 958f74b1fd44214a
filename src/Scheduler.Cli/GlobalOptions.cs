using System.CommandLine;
using Scheduler.Client;
using Scheduler.Protos.Tls;

namespace Scheduler.Cli;

/// <summary>Options every command takes: where the scheduler is and which credentials to present.</summary>
internal static class GlobalOptions
{
    private const string DefaultAddress = "http://127.0.0.1:5000";
    private const string DefaultKey = "dev-key";
    private const string DefaultAdminKey = "dev-admin-key";

    // Defaults are resolved when a command runs rather than in the options, so that help never prints a key.
    private static readonly Option<string> Address = new Option<string>("--address")
    {
        Description = "Scheduler address, or several comma-separated (the silos of one cluster): a call that finds one " +
            "unavailable (connection refused or reset, the silo gone) goes on to the next when repeating it is safe, a job's " +
            $"stream (submit, watch) goes on from its next token, and top keeps reading from whichever answers (default: $SCHEDULER_ADDRESS or {DefaultAddress})",
        Recursive = true,
    }.NotEmpty();

    private static readonly Option<string> Key = new Option<string>("--key")
    {
        Description = $"Tenant API key (default: $SCHEDULER_API_KEY or {DefaultKey})",
        Recursive = true,
    }.NotEmpty();

    private static readonly Option<string> AdminKey = new Option<string>("--admin-key")
    {
        Description = $"Admin key (default: $SCHEDULER_ADMIN_KEY or {DefaultAdminKey})",
        Recursive = true,
    }.NotEmpty();

    private static readonly Option<string> CaFile = new Option<string>("--ca-file")
    {
        Description = "PEM file of the CA that signed an https:// scheduler's certificate (default: $SCHEDULER_CA_FILE, else the system's CAs)",
        Recursive = true,
    }.NotEmpty();

    /// <summary>Adds the options to the root command, for it and every subcommand.</summary>
    public static void AddTo(RootCommand root)
    {
        root.Add(Address);
        root.Add(Key);
        root.Add(AdminKey);
        root.Add(CaFile);
    }

    /// <summary>The channels to the parsed addresses, trusting the parsed CA; calls rotate among them.</summary>
    public static AddressRotation Connect(ParseResult parse) =>
        new(AddressesOf(parse), TrustedCa.LoadOrNull(CaFileOf(parse), "--ca-file"));

    /// <summary>A tenant client with the parsed key, calling through <paramref name="addresses"/>.</summary>
    public static SchedulerClient CreateClient(ParseResult parse, AddressRotation addresses) =>
        new(addresses, Resolve(parse.GetValue(Key), "SCHEDULER_API_KEY", DefaultKey));

    /// <summary>An admin client with the parsed admin key, calling through <paramref name="addresses"/>.</summary>
    public static SchedulerAdminClient CreateAdminClient(ParseResult parse, AddressRotation addresses) =>
        new(addresses, Resolve(parse.GetValue(AdminKey), "SCHEDULER_ADMIN_KEY", DefaultAdminKey));

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

    /// <summary>The scheduler addresses the command dials, in the order given (comma-separated, spaces ignored).</summary>
    /// <exception cref="ArgumentException">One is not an http:// or https:// URL, or none is given.</exception>
    public static IReadOnlyList<string> AddressesOf(ParseResult parse)
    {
        var given = Resolve(parse.GetValue(Address), "SCHEDULER_ADDRESS", DefaultAddress);
        var addresses = given.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct(StringComparer.Ordinal).ToList();
        if (addresses.Count == 0)
        {
            throw new ArgumentException($"the address must be an http:// or https:// URL, not '{given}'");
        }

        foreach (var address in addresses)
        {
            if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            {
                throw new ArgumentException($"the address must be an http:// or https:// URL, not '{address}'");
            }
        }

        return addresses;
    }

    // The option given, else the variable set, else the default. Given empty, either is refused (the option by NotEmpty,
    // when the command line parses): it fell back to the next without a word, and for --admin-key "$KEY" with $KEY unset,
    // or SCHEDULER_ADMIN_KEY=$(a kubectl that failed), that was the development admin key.
    private static string Resolve(string? given, string environmentVariable, string fallback)
    {
        if (given is not null)
        {
            return given;
        }

        return Environment.GetEnvironmentVariable(environmentVariable) switch
        {
            null => fallback,
            "" => throw new ArgumentException($"${environmentVariable} is set but empty: set it to a value, or unset it for the default"),
            var fromEnvironment => fromEnvironment,
        };
    }

    private static Option<string> NotEmpty(this Option<string> option)
    {
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string>()?.Length == 0)
            {
                result.AddError($"{option.Name}: must not be empty (leave it out for the default)");
            }
        });
        return option;
    }
}
