using Proto = Scheduler.Protos.V1;

namespace Scheduler.Silo.Api;

/// <summary>The page a <c>ListTenants</c> request asks for: its size, and the tenant id it goes on after. The token is
/// that id (base64url, behind a prefix that tells it from other listings' tokens): tenants are listed in id order, so
/// the id is a cursor that stays right while tenants are created between pages.</summary>
internal readonly record struct TenantPaging(string After, int PageSize)
{
    /// <summary>Also the default: a client from before paging sends no page_size, and gets every tenant of a fleet
    /// up to this size in one message. A tenant takes at most about 525 bytes (a 128-character id of 3-byte characters,
    /// every quota and usage field at its widest), so a page stays under 2.6 MB, below a client's default 4 MB receive
    /// limit.</summary>
    public const int MaxPageSize = 5_000;

    private const string Prefix = "tenant:";

    public static TenantPaging Parse(Proto.ListTenantsRequest request)
    {
        if (request.PageSize is < 0 or > MaxPageSize)
        {
            throw SchedulerErrors.InvalidArgument("page_size", $"must be 0 (the default, {MaxPageSize}) to {MaxPageSize}");
        }

        var after = request.PageToken.Length > 0 ? ParseToken(request.PageToken) : "";
        return new TenantPaging(after, request.PageSize == 0 ? MaxPageSize : request.PageSize);
    }

    public static string Token(string lastTenantId) => PageTokens.Encode(Prefix + lastTenantId);

    private static string ParseToken(string token) =>
        PageTokens.Text(token) is { } text && text.StartsWith(Prefix, StringComparison.Ordinal) && text.Length > Prefix.Length
            ? text[Prefix.Length..]
            : throw PageTokens.NotHandedOut("ListTenants");
}
