using System.Text;

namespace Scheduler.Silo.Api;

/// <summary>Which keys a client can send at all: a tenant key travels as <c>authorization: Bearer &lt;key&gt;</c>, in
/// gRPC metadata or an HTTP header, and an idempotency key in the OpenAI door's <c>Idempotency-Key</c> header. gRPC
/// clients refuse to send a metadata value outside printable ASCII (grpcio: "metadata was invalid"), Kestrel refuses
/// NUL and bytes that are not UTF-8 in a header (a bare 400; Python's requests sends Latin-1), and HTTP trims spaces
/// around a value (the silo trims them around a tenant key too, <see cref="Credentials.BearerToken"/>). A
/// tenant key with an emoji, a control character or a leading space was accepted, stored hashed, and then never
/// matched; an idempotency key with one could be used over gRPC but not repeated over HTTP.</summary>
internal static class PresentableKeys
{
    /// <summary>What a key must be, for a refusal to say.</summary>
    public const string Rule = "must be visible ASCII characters without spaces (a client sends it in an 'authorization: Bearer' header)";

    /// <summary>What an idempotency key must be, for a refusal to say.</summary>
    public const string IdempotencyKeyRule =
        "must be visible ASCII characters without spaces, U+0021 to U+007E (the OpenAI-compatible API carries it in an 'Idempotency-Key' header)";

    public static bool Allows(string key) => Refused(key) is null;

    /// <summary>The first character of <paramref name="key"/> no client can send, or null if there is none.</summary>
    public static Rune? Refused(string key)
    {
        var at = key.AsSpan().IndexOfAnyExceptInRange('!', '~');
        if (at < 0)
        {
            return null;
        }

        // A lone surrogate decodes as U+FFFD, which is refused as well.
        Rune.DecodeFromUtf16(key.AsSpan(at), out var refused, out _);
        return refused;
    }
}
