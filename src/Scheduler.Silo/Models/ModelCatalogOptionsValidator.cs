using Microsoft.Extensions.Options;

namespace Scheduler.Silo.Models;

/// <summary>Refuses, at start-up, a model whose chat template is not one the silo can render: found at the first
/// chat job instead, every chat for that model would fail.</summary>
internal sealed class ModelCatalogOptionsValidator : IValidateOptions<ModelCatalogOptions>
{
    public ValidateOptionsResult Validate(string? name, ModelCatalogOptions options)
    {
        var failures = options.Models
            .Where(m => !string.IsNullOrEmpty(m.ChatTemplate) && !ChatTemplate.TryGet(m.ChatTemplate, out _))
            .Select(m => $"Scheduler:Models '{m.Name}': ChatTemplate '{m.ChatTemplate}' is not one of {string.Join(", ", ChatTemplate.Names)}")
            .ToList();
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
