using System.Buffers.Text;
using System.Text;
using Grpc.Core;

namespace Scheduler.Silo.Api;

/// <summary>
/// The page tokens of the listings (<c>ListJobs</c>, <c>ListTenants</c>): each listing's own text saying where its page
/// stopped, in base64url so a client passes it back untouched. A token that does not decode, or whose text its listing
/// does not read, is refused alike: INVALID_ARGUMENT naming <c>page_token</c>.
/// </summary>
internal static class PageTokens
{
    public static string Encode(string text) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(text));

    /// <summary>The token's text; null when it is not base64url.</summary>
    public static string? Text(string token)
    {
        try
        {
            return Encoding.UTF8.GetString(Base64Url.DecodeFromChars(token));
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>The refusal of a token <paramref name="listing"/> did not hand out.</summary>
    public static RpcException NotHandedOut(string listing) =>
        SchedulerErrors.InvalidArgument("page_token", $"is not a token a previous {listing} returned");
}
