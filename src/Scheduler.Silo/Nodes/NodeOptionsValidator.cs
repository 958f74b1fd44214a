using Microsoft.Extensions.Options;
using Scheduler.Protos.Settings;

namespace Scheduler.Silo.Nodes;

/// <summary>Refuses, at start-up, a node token no worker could present: an empty one left every node refused ("malformed
/// 'authorization' metadata") by a silo that started as if all was well.</summary>
internal sealed class NodeOptionsValidator : IValidateOptions<NodeOptions>
{
    public ValidateOptionsResult Validate(string? name, NodeOptions options) =>
        BearerSecret.Problem(options.NodeToken) is { } problem
            ? ValidateOptionsResult.Fail($"Scheduler:NodeToken {problem}: worker nodes send it as 'authorization: Bearer <token>', and each one's Worker:NodeToken must be it")
            : ValidateOptionsResult.Success;
}
