using System.Collections.Concurrent;
using System.Reflection;

namespace Scheduler.Tests.Silo.Nodes;

/// <summary>One call a <see cref="RecordingGrainFactory"/>'s grain got: the grain's interface and key, the method, its arguments.</summary>
internal sealed record GrainCall(Type Grain, string Key, string Method, object?[] Arguments);

/// <summary>
/// A grain factory for a unit test of a class that calls grains (a node link): every grain it hands out records each call
/// and answers at once, with nothing (a <c>Task</c> of the default value). Made with
/// <see cref="DispatchProxy.Create{T, TProxy}"/>; <see cref="Calls"/> holds what every grain of it was called with.
/// </summary>
public class RecordingGrainFactory : DispatchProxy
{
    private readonly ConcurrentDictionary<(Type, string), object> _grains = new();

    internal ConcurrentQueue<GrainCall> Calls { get; } = new();

    /// <summary>The calls to grains of <typeparamref name="TGrain"/> named <paramref name="method"/>, in the order made.</summary>
    internal IReadOnlyList<GrainCall> CallsTo<TGrain>(string method) =>
        [.. Calls.Where(c => c.Grain == typeof(TGrain) && c.Method == method)];

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        if (targetMethod is not { Name: "GetGrain", IsGenericMethod: true } || args is not [string key, ..])
        {
            throw new NotSupportedException($"The recording grain factory hands out grains by string key only, not {targetMethod?.Name}.");
        }

        var type = targetMethod.GetGenericArguments()[0];
        return _grains.GetOrAdd((type, key), _ =>
        {
            var grain = DispatchProxy.Create(type, typeof(RecordingGrain));
            ((RecordingGrain)grain).Bind(this, type, key);
            return grain;
        });
    }

    /// <summary>A grain of the factory: records the call and answers at once.</summary>
    public class RecordingGrain : DispatchProxy
    {
        private RecordingGrainFactory? _factory;
        private Type _type = typeof(object);
        private string _key = "";

        internal void Bind(RecordingGrainFactory factory, Type type, string key) => (_factory, _type, _key) = (factory, type, key);

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            ArgumentNullException.ThrowIfNull(targetMethod);
            _factory!.Calls.Enqueue(new GrainCall(_type, _key, targetMethod.Name, args ?? []));
            var returns = targetMethod.ReturnType;
            if (returns == typeof(Task))
            {
                return Task.CompletedTask;
            }

            if (returns.IsGenericType && returns.GetGenericTypeDefinition() == typeof(Task<>))
            {
                var result = returns.GetGenericArguments()[0];
                return typeof(Task).GetMethod(nameof(Task.FromResult))!.MakeGenericMethod(result).Invoke(null, [result.IsValueType ? Activator.CreateInstance(result) : null]);
            }

            return returns.IsValueType && returns != typeof(void) ? Activator.CreateInstance(returns) : null;
        }
    }
}
