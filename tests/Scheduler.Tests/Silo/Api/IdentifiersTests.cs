using Grpc.Core;
using Scheduler.Silo.Api;

namespace Scheduler.Tests.Silo.Api;

public sealed class IdentifiersTests
{
    private static readonly string TooLong = new('x', Identifiers.MaxLength + 1);

    public static TheoryData<string, string> BadNewIds => new()
    {
        { "", "tenant_id: is required" },
        { "two words", "tenant_id: must be at most 128 UTF-16 code units (an emoji counts 2) without spaces, control or invisible formatting characters" },
        { "bell\a", "tenant_id: must be at most 128 UTF-16 code units (an emoji counts 2) without spaces, control or invisible formatting characters" },
        { TooLong, "tenant_id: must be at most 128 UTF-16 code units (an emoji counts 2) without spaces, control or invisible formatting characters" },
        // Invisible: "team\u200Bb" looks like "teamb"; U+202E turns the rest of a log line around; a BOM.
        { "team\u200Bb", "tenant_id: must be at most 128 UTF-16 code units (an emoji counts 2) without spaces, control or invisible formatting characters" },
        { "ab\u202Ecd", "tenant_id: must be at most 128 UTF-16 code units (an emoji counts 2) without spaces, control or invisible formatting characters" },
        { "\uFEFFteam", "tenant_id: must be at most 128 UTF-16 code units (an emoji counts 2) without spaces, control or invisible formatting characters" },
        // Invisible outside the BMP: tag characters (Cf) after "teamb" list as "teamb"; they are surrogate pairs in UTF-16.
        { "teamb\U000E0062\U000E0063", "tenant_id: must be at most 128 UTF-16 code units (an emoji counts 2) without spaces, control or invisible formatting characters" },
        { "\U000E0001team", "tenant_id: must be at most 128 UTF-16 code units (an emoji counts 2) without spaces, control or invisible formatting characters" },
        // 65 emoji are 130 UTF-16 units: "at most 128 characters" read wrong to whoever counted 65.
        { string.Concat(Enumerable.Repeat("\U0001F600", 65)), "tenant_id: must be at most 128 UTF-16 code units (an emoji counts 2) without spaces, control or invisible formatting characters" },
    };

    public static TheoryData<string, string> BadReferences => new()
    {
        { "", "job_id: is required" },
        { " \t", "job_id: is required" },
        { TooLong, "job_id: is longer than 128 UTF-16 code units" },
    };

    [Theory]
    [MemberData(nameof(BadNewIds))]
    public void Require_BadId_IsInvalidArgumentNamingTheField(string id, string detail)
    {
        var error = Assert.Throws<RpcException>(() => Identifiers.Require(id, "tenant_id"));

        Assert.Equal((StatusCode.InvalidArgument, detail), (error.StatusCode, error.Status.Detail));
    }

    [Theory]
    [MemberData(nameof(BadReferences))]
    public void RequireReference_IdThatCannotExist_IsInvalidArgumentNamingTheField(string id, string detail)
    {
        var error = Assert.Throws<RpcException>(() => Identifiers.RequireReference(id, "job_id"));

        Assert.Equal((StatusCode.InvalidArgument, detail), (error.StatusCode, error.Status.Detail));
    }

    [Theory]
    [InlineData("team-b")]
    [InlineData("node-1/r0")]
    [InlineData("équipe-中文-\U0001F600")]
    [InlineData("فريق-ب")]
    public void Require_And_RequireReference_AcceptAnOrdinaryId(string id)
    {
        Identifiers.Require(id, "tenant_id");
        Identifiers.RequireReference(id, "tenant_id");
        Identifiers.RequireReference(new string('x', Identifiers.MaxLength), "job_id");
    }
}
