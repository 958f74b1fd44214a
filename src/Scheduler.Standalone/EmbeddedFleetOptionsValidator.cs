using Microsoft.Extensions.Options;
using Scheduler.Silo.Models;

namespace Scheduler.Standalone;

/// <summary>
/// Refuses, at start-up, an embedded fleet that could never register: an accelerator serving a model the catalog does
/// not list (its node was refused at every attempt, and the standalone ended 30 s later in an unhandled timeout), or
/// accelerators that name no model with no model in the catalog to default to.
/// </summary>
internal sealed class EmbeddedFleetOptionsValidator(IOptions<ModelCatalogOptions> catalog) : IValidateOptions<EmbeddedFleetOptions>
{
    public ValidateOptionsResult Validate(string? name, EmbeddedFleetOptions options)
    {
        if (!options.Enabled)
        {
            return ValidateOptionsResult.Success;
        }

        var models = catalog.Value.Models.Select(m => m.Name).ToList();
        var failures = new List<string>();
        for (var n = 0; n < options.Nodes.Count; n++)
        {
            for (var a = 0; a < options.Nodes[n].Accelerators.Count; a++)
            {
                var key = $"{EmbeddedFleetOptions.Section}:Nodes:{n}:Accelerators:{a}:Model";
                var model = options.Nodes[n].Accelerators[a].Model;
                if (model is null && models.Count == 0)
                {
                    failures.Add($"{key} is unset and Scheduler:Models lists no model to serve instead");
                }
                else if (model is not null && !models.Contains(model))
                {
                    failures.Add($"{key} '{model}' is not in the model catalog (Scheduler:Models: {string.Join(", ", models)}); leave it unset to serve the first");
                }
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
