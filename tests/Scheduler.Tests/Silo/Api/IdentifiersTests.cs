using Grpc.Core;
using Scheduler.Silo.Api;

namespace Scheduler.Tests.Silo.Api;

public sealed class IdentifiersTests
{
    private static readonly string TooLong = new('x', Identifiers.MaxLength + 1);

    public static TheoryData<string, string> BadNewIds => new()
    {
        { "", "tenant_id: is required" },
        { "two words", "tenant_id: must be at most 128 characters without spaces or control characters" },
        { "bell\a", "tenant_id: must be at most 128 characters without spaces or control characters" },
        { TooLong, "tenant_id: must be at most 128 characters without spaces or control characters" },
    };

    public static TheoryData<string, string> BadReferences => new()
    {
        { "", "job_id: is required" },
        { " \t", "job_id: is required" },
        { TooLong, "job_id: is longer than 128 characters" },
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
    public void Require_And_RequireReference_AcceptAnOrdinaryId(string id)
    {
        Identifiers.Require(id, "tenant_id");
        Identifiers.RequireReference(id, "tenant_id");
        Identifiers.RequireReference(new string('x', Identifiers.MaxLength), "job_id");
    }
}
