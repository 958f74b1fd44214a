using Scheduler.Worker.Engines.Upstream;

namespace Scheduler.Worker.Hosting;

/// <summary>
/// The OpenAI-compatible server an accelerator group's replicas forward to with the "upstream" engine
/// (configuration section <c>Worker:Accelerators:N:Upstream</c>). The API key is read from an environment variable or a
/// file, never from the configuration itself, so it stays out of files and command lines.
/// </summary>
public sealed class UpstreamOptions
{
    /// <summary>The server's root, e.g. <c>http://vllm:8000</c> or <c>https://api.groq.com/openai</c>: requests go to
    /// <c>{BaseUrl}/v1/completions</c> and <c>{BaseUrl}/v1/chat/completions</c>. A URL ending in <c>/v1</c> (as OpenAI
    /// clients take it) is the same server.</summary>
    public string? BaseUrl { get; set; }

    /// <summary>The model name the upstream serves, e.g. <c>meta-llama/Llama-3.1-8B-Instruct</c>.</summary>
    public string? Model { get; set; }

    /// <summary>The environment variable holding the API key, e.g. <c>GROQ_API_KEY</c>.</summary>
    public string? ApiKeyEnvironmentVariable { get; set; }

    /// <summary>A file holding the API key (a mounted secret), e.g. <c>/var/run/secrets/groq/api-key</c>.</summary>
    public string? ApiKeyFile { get; set; }

    /// <summary>Requests each replica keeps open at once (<see cref="AcceleratorOptions.MaxSequences"/> overrides it).</summary>
    public int Slots { get; set; } = 8;

    /// <summary>Requests per minute the provider allows each replica; 0 for no limit.</summary>
    public int RequestsPerMinute { get; set; }

    /// <summary>Prompt plus output tokens per minute the provider allows each replica; 0 for no limit.</summary>
    public int TokensPerMinute { get; set; }

    /// <summary>The upstream serves only <c>/v1/chat/completions</c> (Groq): a prompt is sent as one user turn.</summary>
    public bool ChatOnly { get; set; }

    /// <summary>Seconds connecting may take before a sequence is handed back to run elsewhere.</summary>
    public double ConnectTimeoutSeconds { get; set; } = 10;

    /// <summary>Seconds the upstream may send nothing — no answer after the request, or no event while it streams —
    /// before the sequence is handed back to run elsewhere (from the tokens delivered); 0 waits for ever. Without it a
    /// hung server or a load balancer that black-holes held its jobs running and their slots taken for good.</summary>
    public double IdleTimeoutSeconds { get; set; } = 120;

    /// <summary>The validated settings.</summary>
    /// <param name="prefix">Where these options were read, for messages naming the setting: "Worker:Upstream" or
    /// "Worker:Accelerators:N:Upstream".</param>
    /// <param name="environment">Reads an environment variable (the process's, or a test's).</param>
    /// <exception cref="ArgumentException">A setting is missing or invalid; the message names it.</exception>
    internal UpstreamReplicaSettings Validate(string prefix, Func<string, string?> environment)
    {
        if (string.IsNullOrWhiteSpace(BaseUrl))
        {
            throw new ArgumentException($"The upstream engine needs {prefix}:BaseUrl (or Worker:Upstream:BaseUrl for every group): the OpenAI-compatible server, e.g. http://vllm:8000.");
        }

        if (!Uri.TryCreate(BaseUrl.Trim(), UriKind.Absolute, out var baseUri) || (baseUri.Scheme != Uri.UriSchemeHttp && baseUri.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"{prefix}:BaseUrl \"{BaseUrl}\" is not an absolute http or https URL.");
        }

        if (string.IsNullOrWhiteSpace(Model))
        {
            throw new ArgumentException($"{prefix}:Model must name the model the upstream serves.");
        }

        if (Slots < 1)
        {
            throw new ArgumentException($"{prefix}:Slots must be at least 1, not {Slots}.");
        }

        if (RequestsPerMinute < 0)
        {
            throw new ArgumentException($"{prefix}:RequestsPerMinute must not be negative (0: no limit), not {RequestsPerMinute}.");
        }

        if (TokensPerMinute < 0)
        {
            throw new ArgumentException($"{prefix}:TokensPerMinute must not be negative (0: no limit), not {TokensPerMinute}.");
        }

        if (!(ConnectTimeoutSeconds > 0) || double.IsInfinity(ConnectTimeoutSeconds))
        {
            throw new ArgumentException($"{prefix}:ConnectTimeoutSeconds must be a positive number of seconds, not {ConnectTimeoutSeconds}.");
        }

        if (!(IdleTimeoutSeconds >= 0) || double.IsInfinity(IdleTimeoutSeconds))
        {
            throw new ArgumentException($"{prefix}:IdleTimeoutSeconds must be a number of seconds, 0 for none, not {IdleTimeoutSeconds}.");
        }

        return new UpstreamReplicaSettings(
            baseUri, Model.Trim(), ApiKey(prefix, environment), RequestsPerMinute, TokensPerMinute, ChatOnly, TimeSpan.FromSeconds(ConnectTimeoutSeconds),
            IdleTimeoutSeconds == 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds(IdleTimeoutSeconds));
    }

    private string? ApiKey(string prefix, Func<string, string?> environment)
    {
        if (ApiKeyEnvironmentVariable is { Length: > 0 } && ApiKeyFile is { Length: > 0 })
        {
            throw new ArgumentException($"{prefix}:ApiKeyEnvironmentVariable and {prefix}:ApiKeyFile are both set: set one.");
        }

        if (ApiKeyEnvironmentVariable is { Length: > 0 } variable)
        {
            return environment(variable) is { } key && key.Trim().Length > 0
                ? key.Trim()
                : throw new ArgumentException($"{prefix}:ApiKeyEnvironmentVariable names {variable}, which is not set or empty.");
        }

        if (ApiKeyFile is { Length: > 0 } file)
        {
            string key;
            try
            {
                key = File.ReadAllText(file).Trim();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new ArgumentException($"{prefix}:ApiKeyFile \"{file}\" cannot be read: {ex.Message}", ex);
            }

            return key.Length > 0 ? key : throw new ArgumentException($"{prefix}:ApiKeyFile \"{file}\" is empty.");
        }

        // A local vLLM or SGLang needs none.
        return null;
    }
}
