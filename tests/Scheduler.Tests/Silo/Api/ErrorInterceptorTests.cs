using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Scheduler.Silo.Api;
using StackExchange.Redis;

namespace Scheduler.Tests.Silo.Api;

public sealed class ErrorInterceptorTests
{
    private readonly ErrorInterceptor _interceptor = new(NullLogger<ErrorInterceptor>.Instance);

    private Task<RpcException> Fail(Exception thrown) => Assert.ThrowsAsync<RpcException>(() =>
        _interceptor.UnaryServerHandler<string, string>("request", new FakeCallContext(), (_, _) => throw thrown));

    [Fact]
    public async Task UnaryCall_SiloFailedUnderIt_IsUnavailableToRetry()
    {
        var error = await Fail(new SiloUnavailableException("silo S127.0.0.1:11111 is dead"));

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Contains("retry", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnaryCall_GrainCallCancelledByTheRuntime_NotByTheCaller_IsUnavailableToRetry()
    {
        // Orleans cancels a call it cannot address while the cluster changes (its directory lookup throws): the same
        // request succeeds a moment later, so the client must retry, not read it as the scheduler's bug (it was INTERNAL
        // with an error logged: the two-silos-lost fault test, ci35 of 2026-12-04).
        var error = await Fail(new OperationCanceledException("The operation was canceled."));

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
    }

    public static TheoryData<Exception> RedisFailures => new()
    {
        new RedisTimeoutException("Timeout performing HSET (5000ms)", CommandStatus.Sent),
        new RedisConnectionException(ConnectionFailureType.UnableToConnect, "No connection is available"),
    };

    [Theory]
    [MemberData(nameof(RedisFailures))]
    public async Task UnaryCall_RedisNotAnswering_IsUnavailableToRetry_NamingRedis(Exception redis)
    {
        var error = await Fail(redis);

        Assert.Equal(
            (StatusCode.Unavailable, "the scheduler's storage (Redis) does not answer: retry the same request, with its idempotency key"),
            (error.StatusCode, error.Status.Detail));
    }

    [Fact]
    public async Task UnaryCall_UnexpectedException_IsInternal_WithoutItsDetails()
    {
        var error = await Fail(new InvalidOperationException("secret detail"));

        Assert.Equal(StatusCode.Internal, error.StatusCode);
        Assert.DoesNotContain("secret", error.Status.Detail, StringComparison.Ordinal);
    }
}
