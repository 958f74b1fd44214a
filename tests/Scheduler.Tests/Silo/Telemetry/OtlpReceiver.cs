using System.Collections.Concurrent;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using Scheduler.Tests.Otlp;

namespace Scheduler.Tests.Silo.Telemetry;

/// <summary>A span the receiver got, with the service that sent it.</summary>
public sealed record ReceivedSpan(string Service, string Scope, string Name, string TraceId, string SpanId, string ParentSpanId, IReadOnlyDictionary<string, string> Attributes);

/// <summary>A metric the receiver got (one export of it), with the service and meter that sent it.</summary>
public sealed record ReceivedMetric(string Service, string Scope, string Name);

/// <summary>
/// A tiny OTLP/HTTP collector: Kestrel on loopback accepting POST /v1/traces and /v1/metrics (binary protobuf, as the
/// OTLP exporter sends with OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf) and keeping every span and metric it decodes.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedSpan> _spans = new();
    private readonly ConcurrentQueue<ReceivedMetric> _metrics = new();

    private OtlpReceiver(WebApplication app) => _app = app;

    /// <summary>The base address, for OTEL_EXPORTER_OTLP_ENDPOINT.</summary>
    public string Endpoint => _app.Urls.Single();

    public IReadOnlyList<ReceivedSpan> Spans => [.. _spans];

    public IReadOnlyList<ReceivedMetric> Metrics => [.. _metrics];

    public static async Task<OtlpReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http1));
        var app = builder.Build();
        var receiver = new OtlpReceiver(app);
        app.MapPost("/v1/traces", receiver.Receive);
        app.MapPost("/v1/metrics", receiver.ReceiveMetrics);
        await app.StartAsync();
        return receiver;
    }

    private async Task<IResult> Receive(HttpRequest request)
    {
        var export = ExportTraceServiceRequest.Parser.ParseFrom(await BodyOf(request));
        foreach (var resource in export.ResourceSpans)
        {
            var service = ServiceOf(resource.Resource);
            foreach (var scope in resource.ScopeSpans)
            {
                foreach (var span in scope.Spans)
                {
                    _spans.Enqueue(new ReceivedSpan(
                        service, scope.Scope?.Name ?? "", span.Name, Convert.ToHexStringLower(span.TraceId.Span), Convert.ToHexStringLower(span.SpanId.Span),
                        Convert.ToHexStringLower(span.ParentSpanId.Span), span.Attributes.ToDictionary(a => a.Key, a => Text(a.Value))));
                }
            }
        }

        return Results.Bytes(new ExportTraceServiceResponse().ToByteArray(), "application/x-protobuf");
    }

    private async Task<IResult> ReceiveMetrics(HttpRequest request)
    {
        var export = ExportMetricsServiceRequest.Parser.ParseFrom(await BodyOf(request));
        var received = from resource in export.ResourceMetrics
                       from scope in resource.ScopeMetrics
                       from metric in scope.Metrics
                       select new ReceivedMetric(ServiceOf(resource.Resource), scope.Scope?.Name ?? "", metric.Name);
        foreach (var metric in received)
        {
            _metrics.Enqueue(metric);
        }

        return Results.Bytes(new ExportMetricsServiceResponse().ToByteArray(), "application/x-protobuf");
    }

    private static async Task<byte[]> BodyOf(HttpRequest request)
    {
        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body);
        return body.ToArray();
    }

    private static string ServiceOf(Resource? resource) =>
        resource?.Attributes.FirstOrDefault(a => a.Key == "service.name")?.Value?.StringValue ?? "";

    private static string Text(AnyValue? value) => value?.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => value.StringValue,
        AnyValue.ValueOneofCase.IntValue => value.IntValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.BoolValue => value.BoolValue ? "true" : "false",
        AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => "",
    };

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
