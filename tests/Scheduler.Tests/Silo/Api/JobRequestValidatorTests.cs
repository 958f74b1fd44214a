using Grpc.Core;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Scheduler.Abstractions.Jobs;
using Scheduler.Protos.V1;
using Scheduler.Silo.Api;
using Scheduler.Silo.Models;

namespace Scheduler.Tests.Silo.Api;

public sealed class JobRequestValidatorTests
{
    private readonly JobRequestValidator _validator = new(
        new ModelCatalog(Options.Create(new ModelCatalogOptions { Models = [new ModelOptions { Name = "m" }] })),
        new FakeTimeProvider());

    [Fact]
    public void Validate_CarriesSamplingAndStopSequences()
    {
        var request = Valid();
        request.Temperature = 0;
        request.TopP = 1;
        request.TopK = 40;
        request.Seed = ulong.MaxValue;
        request.Stop = "\n";
        request.StopSequences.Add(["END", "###"]);

        var job = _validator.Validate(request, traceParent: null);

        Assert.Equal(new JobSampling(0f, 1f, 40, ulong.MaxValue), job.Sampling);
        Assert.Equal("\n", job.Stop);
        Assert.Equal(["END", "###"], job.StopSequences!);
    }

    [Fact]
    public void Validate_WithoutSampling_LeavesItToTheEngine()
    {
        var job = _validator.Validate(Valid(), traceParent: null);

        Assert.Null(job.Sampling);
        Assert.Null(job.StopSequences);
    }

    public static TheoryData<string, Action<SubmitJobRequest>> OutOfRangeSampling => new()
    {
        { "temperature", r => r.Temperature = -0.1f },
        { "temperature", r => r.Temperature = 2.01f },
        { "temperature", r => r.Temperature = float.NaN },
        { "top_p", r => r.TopP = 0 },
        { "top_p", r => r.TopP = 1.5f },
        { "top_p", r => r.TopP = float.NaN },
        { "top_k", r => r.TopK = -1 },
    };

    [Theory]
    [MemberData(nameof(OutOfRangeSampling))]
    public void Validate_OutOfRangeSampling_IsInvalidArgumentNamingTheField(string field, Action<SubmitJobRequest> set)
    {
        var request = Valid();
        set(request);

        AssertInvalid(request, field);
    }

    [Theory]
    [InlineData("a", new[] { "b", "c", "d", "e" })]
    [InlineData("", new[] { "b", "" })]
    [InlineData("", new[] { "b", "a-very-long-text" })]
    public void Validate_BadStopSequences_IsInvalidArgumentNamingTheField(string stop, string[] stopSequences)
    {
        var request = Valid();
        request.Stop = stop;
        request.StopSequences.Add(stopSequences.Select(s => s == "a-very-long-text" ? new string('x', 257) : s));

        AssertInvalid(request, "stop_sequences");
    }

    private static SubmitJobRequest Valid() => new() { Model = "m", Prompt = "hello", MaxTokens = 4 };

    private void AssertInvalid(SubmitJobRequest request, string field)
    {
        var error = Assert.Throws<RpcException>(() => _validator.Validate(request, traceParent: null));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.StartsWith(field + ":", error.Status.Detail, StringComparison.Ordinal);
    }
}
