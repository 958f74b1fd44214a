using Microsoft.Extensions.Options;

namespace Scheduler.Silo.Api;

/// <summary>Refuses, at start-up, front-door settings that cannot mean anything: a negative count or interval was taken
/// silently (a negative keep-alive interval sent none, a negative key cache asked every time), and a message limit
/// below a kilobyte would refuse every request.</summary>
internal sealed class ApiOptionsValidator : IValidateOptions<ApiOptions>
{
    private const string Section = "Scheduler";

    public ValidateOptionsResult Validate(string? name, ApiOptions options)
    {
        List<string> failures = [];
        NotNegative(failures, nameof(options.AdminKeyFileRefreshSeconds), options.AdminKeyFileRefreshSeconds, "seconds between reads of the admin key file");
        NotNegative(failures, nameof(options.AuthFailureLimit), options.AuthFailureLimit, "failed authentications; 0 turns the guard off");
        NotNegative(failures, nameof(options.AuthFailureWindowSeconds), options.AuthFailureWindowSeconds, "seconds");
        NotNegative(failures, nameof(options.ApiKeyCacheSeconds), options.ApiKeyCacheSeconds, "seconds; 0 always asks");
        NotNegative(failures, nameof(options.OpenAiStreamKeepAliveSeconds), options.OpenAiStreamKeepAliveSeconds, "seconds; 0 sends none");
        if (options.TokenStreamIntervalMilliseconds is < 0 or > ApiOptions.MaxTokenStreamIntervalMilliseconds)
        {
            failures.Add(
                $"{Section}:{nameof(options.TokenStreamIntervalMilliseconds)} must be from 0 (every step's tokens as they come) to "
                + $"{ApiOptions.MaxTokenStreamIntervalMilliseconds} milliseconds; it is {options.TokenStreamIntervalMilliseconds}");
        }

        if (options.MaxReceiveMessageBytes < 1024)
        {
            failures.Add($"{Section}:{nameof(options.MaxReceiveMessageBytes)} must be at least 1024 bytes; it is {options.MaxReceiveMessageBytes}");
        }

        // Below the largest body, a body of the largest size could never be read, whatever the load.
        if (options.MaxRequestBodyBytesInFlight < options.MaxReceiveMessageBytes)
        {
            failures.Add(
                $"{Section}:{nameof(options.MaxRequestBodyBytesInFlight)} must be at least {Section}:{nameof(options.MaxReceiveMessageBytes)} "
                + $"({options.MaxReceiveMessageBytes} bytes), so the largest request body can be read; it is {options.MaxRequestBodyBytesInFlight}");
        }

        // Below the largest body, a tenant's largest body could never be read; above the budget, the share would mean
        // nothing.
        if (options.MaxRequestBodyBytesPerTenant is { } perTenant
            && (perTenant < options.MaxReceiveMessageBytes || perTenant > options.MaxRequestBodyBytesInFlight))
        {
            failures.Add(
                $"{Section}:{nameof(options.MaxRequestBodyBytesPerTenant)} must be at least {Section}:{nameof(options.MaxReceiveMessageBytes)} "
                + $"({options.MaxReceiveMessageBytes} bytes), so a tenant's largest request body can be read, and at most "
                + $"{Section}:{nameof(options.MaxRequestBodyBytesInFlight)} ({options.MaxRequestBodyBytesInFlight} bytes); it is {perTenant}");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void NotNegative(List<string> failures, string setting, int value, string unit)
    {
        if (value < 0)
        {
            failures.Add($"{Section}:{setting} must be 0 or more ({unit}); it is {value}");
        }
    }
}
