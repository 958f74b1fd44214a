using Microsoft.Extensions.Options;

namespace Scheduler.Silo.Models;

/// <summary>
/// Refuses, at start-up, a model entry the silo could not serve. Each was found later instead: an entry without a name
/// made ListModels INTERNAL for every model; two of one name, or an unknown tokenizer, stopped the silo with a stack
/// trace when the catalog was first built; a context of -5 tokens refused every job; an unknown chat template failed
/// every chat job.
/// </summary>
internal sealed class ModelCatalogOptionsValidator : IValidateOptions<ModelCatalogOptions>
{
    public ValidateOptionsResult Validate(string? name, ModelCatalogOptions options)
    {
        var failures = new List<string>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < options.Models.Count; i++)
        {
            var model = options.Models[i];
            var key = $"Scheduler:Models:{i}";
            if (string.IsNullOrWhiteSpace(model.Name))
            {
                failures.Add($"{key}:Name must not be empty");
            }
            else if (!names.Add(model.Name))
            {
                failures.Add($"{key}:Name '{model.Name}' is another entry's: a model is listed once");
            }

            AtLeastOne(failures, $"{key}:MaxContextTokens", model.MaxContextTokens);
            AtLeastOne(failures, $"{key}:MaxOutputTokens", model.MaxOutputTokens);
            AtLeastOne(failures, $"{key}:DefaultTtftObjectiveMs", model.DefaultTtftObjectiveMs);
            AtLeastOne(failures, $"{key}:MaxPromptBytes", model.MaxPromptBytes);
            if (model.VocabularySize < 0)
            {
                failures.Add($"{key}:VocabularySize must be 0 (not checked) or the model's vocabulary size, not {model.VocabularySize}");
            }

            if (!Tokenizers.TryGet(model.Tokenizer, out _))
            {
                failures.Add($"{key}:Tokenizer '{model.Tokenizer}' is not a tokenizer this silo has (it ships cl100k_base)");
            }

            if (!string.IsNullOrEmpty(model.ChatTemplate) && !ChatTemplate.TryGet(model.ChatTemplate, out _))
            {
                failures.Add($"{key}:ChatTemplate '{model.ChatTemplate}' is not one of {string.Join(", ", ChatTemplate.Names)}");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void AtLeastOne(List<string> failures, string key, int value)
    {
        if (value < 1)
        {
            failures.Add($"{key} must be at least 1, not {value}");
        }
    }
}
