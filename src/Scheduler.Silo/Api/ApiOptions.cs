namespace Scheduler.Silo.Api;

/// <summary>The gRPC front door's settings (section "Scheduler").</summary>
public sealed class ApiOptions
{
    /// <summary>Key for AdminService calls. The default is a well-known development key. Ignored when
    /// <see cref="AdminKeyFile"/> is set. Read through IOptionsMonitor: a reloaded configuration file changes it.</summary>
    public string AdminApiKey { get; set; } = "dev-admin-key";

    /// <summary>More admin keys accepted besides <see cref="AdminApiKey"/> or the file's, e.g. the next key during a
    /// rotation.</summary>
    public string[] AdminApiKeys { get; set; } = [];

    /// <summary>A file of admin keys, one a line (blank lines and lines starting with '#' are skipped), re-read every
    /// <see cref="AdminKeyFileRefreshSeconds"/>: a Kubernetes Secret mounted as a file rotates the admin key without a
    /// restart. When set, it replaces <see cref="AdminApiKey"/>.</summary>
    public string? AdminKeyFile { get; set; }

    /// <summary>How often <see cref="AdminKeyFile"/> is re-read; a key removed from it stops working within this.</summary>
    public int AdminKeyFileRefreshSeconds { get; set; } = 5;

    /// <summary>Failed authentications from one peer address (gRPC and OpenAI API together) within
    /// <see cref="AuthFailureWindowSeconds"/> after which its calls are refused without a key lookup until the window
    /// ends. 0 turns the guard off.</summary>
    public int AuthFailureLimit { get; set; } = 10;

    /// <summary>The window of <see cref="AuthFailureLimit"/>, which starts at a peer's first failure.</summary>
    public int AuthFailureWindowSeconds { get; set; } = 60;

    /// <summary>
    /// Largest gRPC message the silo accepts; a bigger one is refused with RESOURCE_EXHAUSTED before it is parsed. Also
    /// the largest request body of the OpenAI-compatible API (decoded, when it is compressed): a bigger one is a 413
    /// naming the limit, before it is parsed. Sized above the largest valid request (a model's MaxPromptBytes of text,
    /// six times that as JSON escapes, or a full context of token ids) and small enough that a flood of them cannot
    /// exhaust memory: at Kestrel's default of 30,000,000 bytes, 40 concurrent 29 MB chat bodies, each refused once
    /// parsed and rendered, took a standalone silo from 0.5 to 6.3 GB.
    /// </summary>
    public int MaxReceiveMessageBytes { get; set; } = 8 << 20;

    /// <summary>
    /// Bytes of request bodies the silo holds at once while it reads and parses them (<see cref="RequestBodyBudget"/>), of
    /// the OpenAI door and the gRPC door's messages together (a streaming call's one at a time, from its frame header
    /// until it is parsed): a request whose body would pass it is answered before its body is read, 503 with <c>Retry-After</c> or RESOURCE_EXHAUSTED with a retry hint. A body
    /// counts its <c>Content-Length</c> (a gRPC message, the length its frame declares); one sent compressed or in chunks
    /// counts <see cref="MaxReceiveMessageBytes"/>. At least
    /// <see cref="MaxReceiveMessageBytes"/>, so the largest body can always be read. The default, 64 MiB, holds 8 of
    /// the largest: a body being parsed costs about 3.5 times its size at the peak (the parser's buffer grows by
    /// doubling to hold it whole, and a prompt as a .NET string is twice its UTF-8), so 64 MiB of bodies is about
    /// 230 MB above the silo's idle size, within the chart's 1 GiB limit.
    /// </summary>
    public long MaxRequestBodyBytesInFlight { get; set; } = 64L << 20;

    /// <summary>
    /// Bytes of <see cref="MaxRequestBodyBytesInFlight"/> one tenant's requests hold at once (both doors): a tenant whose
    /// client sends its bodies slowly holds their declared bytes meanwhile, and could otherwise hold the whole budget and
    /// keep every other tenant's bodies out. A request past it is refused as one past the budget. Unset, half of
    /// <see cref="MaxRequestBodyBytesInFlight"/>, and never below <see cref="MaxReceiveMessageBytes"/>; set, at least
    /// <see cref="MaxReceiveMessageBytes"/> (so a tenant's largest body can be read) and at most
    /// <see cref="MaxRequestBodyBytesInFlight"/>. Calls of admins, nodes and the open services (health, reflection) count
    /// toward the budget alone.
    /// </summary>
    public long? MaxRequestBodyBytesPerTenant { get; set; }

    /// <summary>The share of the budget a tenant may hold: <see cref="MaxRequestBodyBytesPerTenant"/>, or its default.</summary>
    internal long RequestBodyBytesPerTenant() => MaxRequestBodyBytesPerTenant ?? Math.Max(MaxRequestBodyBytesInFlight / 2, MaxReceiveMessageBytes);

    /// <summary>How long a silo trusts a tenant key it has checked; a revoked key may work that long. 0 = always ask.</summary>
    public int ApiKeyCacheSeconds { get; set; } = 10;

    /// <summary>A streamed OpenAI answer silent this long (its job queued, or its engine slow) gets a keep-alive comment,
    /// so a proxy's idle timeout does not cut it; 0 sends none.</summary>
    public int OpenAiStreamKeepAliveSeconds { get; set; } = 15;

    /// <summary>
    /// Milliseconds a job's stream waits between two messages of tokens after its first (every client stream: StreamJob,
    /// StreamJobs, WatchJob and the OpenAI API's): the tokens that come meanwhile go out merged in one message. 0 (the
    /// default) sends every engine step's tokens as they come. The first tokens are never held, so the time to first token
    /// is unchanged, and the job's end goes out at once with the tokens held before it, so the job ends no later; what a
    /// client sees is its tokens in pieces of up to this long. What it saves is the silo's per-message work (the write,
    /// the frame, the socket's send), most of its CPU per streamed token: for the silos of a large fleet with long answers
    /// (docs/scaling.md). At most 1000: a client waiting longer between pieces is no longer streamed to.
    /// </summary>
    public int TokenStreamIntervalMilliseconds { get; set; }

    /// <summary>The largest <see cref="TokenStreamIntervalMilliseconds"/>.</summary>
    public const int MaxTokenStreamIntervalMilliseconds = 1000;
}
