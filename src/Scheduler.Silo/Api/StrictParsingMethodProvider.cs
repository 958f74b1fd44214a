using System.Reflection;
using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;

namespace Scheduler.Silo.Api;

/// <summary>
/// Binds each gRPC service the way grpc-dotnet's own binder does (through the generated <c>BindService</c>), with one
/// difference: a request that cannot be parsed — a string field holding bytes that are not UTF-8, a truncated message —
/// is answered INVALID_ARGUMENT instead of UNKNOWN. The parse runs before any interceptor, so the request's
/// marshaller is the one place that can say so.
/// </summary>
internal sealed class StrictParsingMethodProvider<TService> : IServiceMethodProvider<TService>
    where TService : class
{
    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<TService> context)
    {
        var bind = typeof(TService).GetCustomAttribute<BindServiceMethodAttribute>(inherit: true);
        var bindService = bind?.BindType
            .GetMethods(BindingFlags.Public | BindingFlags.Static)
            .SingleOrDefault(m => m.Name == bind.BindMethodName && m.GetParameters() is [{ ParameterType: var b }, _] && b == typeof(ServiceBinderBase));

        // With no implementation the generated code only declares the methods; the invokers come from TService.
        bindService?.Invoke(null, [new Binder(context), null]);
    }

    private sealed class Binder(ServiceMethodProviderContext<TService> context) : ServiceBinderBase
    {
        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler) =>
            context.AddUnaryMethod(Strict(method), [], Invoker<UnaryServerMethod<TService, TRequest, TResponse>>(method));

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler) =>
            context.AddServerStreamingMethod(Strict(method), [], Invoker<ServerStreamingServerMethod<TService, TRequest, TResponse>>(method));

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler) =>
            context.AddClientStreamingMethod(Strict(method), [], Invoker<ClientStreamingServerMethod<TService, TRequest, TResponse>>(method));

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler) =>
            context.AddDuplexStreamingMethod(Strict(method), [], Invoker<DuplexStreamingServerMethod<TService, TRequest, TResponse>>(method));

        // An open-instance delegate to the service's own override of the method.
        private static TDelegate Invoker<TDelegate>(IMethod method)
            where TDelegate : Delegate =>
            (TDelegate)Delegate.CreateDelegate(typeof(TDelegate), typeof(TService).GetMethod(method.Name, BindingFlags.Public | BindingFlags.Instance)
                ?? throw new InvalidOperationException($"{typeof(TService).Name} does not implement {method.FullName}"));

        private static Method<TRequest, TResponse> Strict<TRequest, TResponse>(Method<TRequest, TResponse> method)
        {
            var parse = method.RequestMarshaller.ContextualDeserializer;
            var request = new Marshaller<TRequest>(method.RequestMarshaller.ContextualSerializer, context =>
            {
                try
                {
                    return parse(context);
                }
                catch (InvalidProtocolBufferException ex)
                {
                    throw SchedulerErrors.InvalidArgument("request", $"not a valid {typeof(TRequest).Name} message: {ex.Message}");
                }
            });
            return new Method<TRequest, TResponse>(method.Type, method.ServiceName, method.Name, request, method.ResponseMarshaller);
        }
    }
}
