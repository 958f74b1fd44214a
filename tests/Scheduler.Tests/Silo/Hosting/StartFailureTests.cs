using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Scheduler.Silo.Hosting;
using Scheduler.Tests.EndToEnd;
using Scheduler.Tests.Faults;

namespace Scheduler.Tests.Silo.Hosting;

/// <summary>A silo that cannot start exits with code 1 and a line saying why, so that its supervisor restarts it. One
/// that could not reach Redis used to log "Hosting failed to start" and then never exit, spinning a core and ignoring
/// SIGTERM: on Kubernetes the pod hung instead of restarting.</summary>
public sealed class StartFailureTests
{
    [Fact]
    public async Task Silo_RedisUnreachable_ExitsWithCode1_NamingRedisWithoutItsPassword()
    {
        var closed = FreePort.Next();
        await using var silo = SiloProcess.Start(0, ["--Scheduler:Clustering=redis", $"--Scheduler:Redis=127.0.0.1:{closed},password=hunter2"]);
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        await silo.WaitForExitAsync(bound.Token);

        Assert.Equal(1, silo.ExitCode);
        Assert.Contains(silo.Output, line => line.StartsWith(
            $"silo failed to start: cannot reach Redis at Scheduler:Redis '127.0.0.1:{closed},password=*****'", StringComparison.Ordinal));
        Assert.DoesNotContain(silo.Output, line => line.Contains("hunter2", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Run_WhatItRunsOnceServingFails_EndsWithCode1_NotAnAbort()
    {
        // The standalone's embedded fleet and demo run once the silo serves; a failure there was an unhandled exception
        // (exit 134).
        var code = await SchedulerHost.RunAsync(Build, _ => throw new InvalidOperationException("the embedded nodes did not register"))
            .WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(SchedulerHost.StartFailedExitCode, code);
    }

    [Fact]
    public async Task Run_WhatItRunsCutShortByAStop_EndsWithCode0()
    {
        // Ctrl+C during the demo: the stop was asked for, and the process ends as any stop does.
        var code = await SchedulerHost.RunAsync(Build, app =>
        {
            app.Lifetime.StopApplication();
            throw new OperationCanceledException(app.Lifetime.ApplicationStopping);
        }).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(0, code);
    }

    [Fact]
    public async Task Run_StopAskedWhileStarting_EndsWithCode0_NotAsAFailedStart()
    {
        // SIGTERM during a slow start (a rollout replacing a pod that is still starting): the host cancels its start.
        var code = await SchedulerHost.RunAsync(() =>
        {
            var app = Build();
            app.Lifetime.StopApplication();
            return app;
        }).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(0, code);
    }

    private static WebApplication Build() => SchedulerHost.Build([
        $"--Scheduler:GrpcPort={FreePort.Next()}", $"--Scheduler:HttpPort={FreePort.Next()}", $"--Scheduler:OpenAiPort={FreePort.Next()}",
        $"--Scheduler:SiloPort={FreePort.Next()}", $"--Scheduler:GatewayPort={FreePort.Next()}",
    ]);

    [Fact]
    public async Task Silo_GrpcPortInUse_ExitsWithCode1_NamingTheAddress()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        await using var silo = SiloProcess.Start(0, [$"--Scheduler:GrpcPort={port}"]);
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        await silo.WaitForExitAsync(bound.Token);

        Assert.Equal(1, silo.ExitCode);
        Assert.Contains(silo.Output, line => line.StartsWith(
            $"silo failed to start: IOException: Failed to bind to address http://127.0.0.1:{port}: address already in use.", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Silo_OrleansGatewayPortInUse_ExitsWithCode1_NamingTheOrleansPorts()
    {
        // Orleans' own message was the socket's bare "Address already in use": which of the silo's five ports?
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var siloPort = FreePort.Next();
        await using var silo = SiloProcess.Start(0, [$"--Scheduler:SiloPort={siloPort}", $"--Scheduler:GatewayPort={port}"]);
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        await silo.WaitForExitAsync(bound.Token);

        Assert.Equal(1, silo.ExitCode);
        Assert.Contains(silo.Output, line => line.StartsWith(
            $"silo failed to start: an Orleans port is in use, Scheduler:SiloPort {siloPort} or Scheduler:GatewayPort {port}: Address already in use", StringComparison.Ordinal));
    }
}
