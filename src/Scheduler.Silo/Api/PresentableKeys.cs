namespace Scheduler.Silo.Api;

/// <summary>Which tenant keys a client can present at all. A key travels as <c>authorization: Bearer &lt;key&gt;</c>, in
/// gRPC metadata or an HTTP header: gRPC clients refuse to send a value outside printable ASCII (grpcio: "metadata was
/// invalid"), Kestrel refuses one in a header, and the silo trims whitespace around the key
/// (<see cref="Credentials.BearerToken(string?)"/>). A key with an emoji, a control character or a leading space was
/// accepted, stored hashed, and then never matched: its tenant could not authenticate.</summary>
internal static class PresentableKeys
{
    /// <summary>What a key must be, for a refusal to say.</summary>
    public const string Rule = "must be visible ASCII characters without spaces (a client sends it in an 'authorization: Bearer' header)";

    public static bool Allows(string key) => key.All(static c => c is > ' ' and <= '~');
}
