using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Cli;

/// <summary>schedctl's options for every command (<c>--address</c>, <c>--key</c>, <c>--admin-key</c>, <c>--ca-file</c>)
/// and their environment variables, given empty: each was taken as not given, so an unset shell variable expanded
/// (<c>--admin-key "$KEY"</c>) fell back to the development key without a word. Against an address where nothing
/// listens: a refusal must come before any call.</summary>
public sealed class GlobalOptionsTests
{
    private static readonly string Closed = $"http://127.0.0.1:{FreePort.Next()}";

    [Theory]
    [InlineData("--admin-key", "summary")]
    [InlineData("--key", "get", "job-none")]
    [InlineData("--ca-file", "summary")]
    public async Task OptionGivenEmpty_IsAUsageError_NamingIt(string option, params string[] command)
    {
        var (exit, stdout, stderr) = await Schedctl.Run(["--address", Closed, .. command, option, ""]);

        Assert.Equal((1, ""), (exit, stdout));
        Assert.StartsWith($"error: {option}: must not be empty (leave it out for the default)", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddressGivenEmpty_IsAUsageError_NotTheDefaultAddress()
    {
        var (exit, _, stderr) = await Schedctl.Run("summary", "--address", "");

        Assert.Equal(1, exit);
        Assert.StartsWith("error: --address: must not be empty", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("SCHEDULER_ADMIN_KEY", "summary")]
    [InlineData("SCHEDULER_API_KEY", "get", "job-none")]
    public async Task VariableSetEmpty_IsAnError_NamingIt_NotTheDefaultKey(string variable, params string[] command)
    {
        var (exit, stdout, stderr) = await Schedctl.Run(new Dictionary<string, string> { [variable] = "" }, ["--address", Closed, .. command]);

        Assert.Equal((1, ""), (exit, stdout));
        Assert.Equal($"error: ${variable} is set but empty: set it to a value, or unset it for the default", stderr.Trim());
    }
}
