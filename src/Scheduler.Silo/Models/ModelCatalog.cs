using System.Collections.Frozen;
using Microsoft.Extensions.Options;
using Microsoft.ML.Tokenizers;

namespace Scheduler.Silo.Models;

/// <summary>The models this scheduler accepts jobs for, each with the tokenizer that counts its prompts.</summary>
internal sealed class ModelCatalog
{
    private readonly FrozenDictionary<string, ModelEntry> _models;

    public ModelCatalog(IOptions<ModelCatalogOptions> options)
    {
        var tokenizers = new Dictionary<string, Tokenizer>(StringComparer.OrdinalIgnoreCase);
        _models = options.Value.Models.ToFrozenDictionary(
            m => m.Name,
            m => new ModelEntry(m, TokenizerFor(m.Tokenizer, tokenizers), ChatTemplateOf(m)),
            StringComparer.Ordinal);
    }

    public IEnumerable<ModelEntry> All => _models.Values;

    public bool TryGet(string name, out ModelEntry model) => _models.TryGetValue(name, out model!);

    /// <summary>The model's chat template; a name that is none was refused at start-up (<see cref="ModelCatalogOptionsValidator"/>).</summary>
    private static ChatTemplate ChatTemplateOf(ModelOptions model) =>
        string.IsNullOrEmpty(model.ChatTemplate) ? ChatTemplate.DefaultFor(model.Name)
        : ChatTemplate.TryGet(model.ChatTemplate, out var template) ? template
        : throw new InvalidOperationException($"Scheduler:Models '{model.Name}': unknown ChatTemplate '{model.ChatTemplate}'");

    private static Tokenizer TokenizerFor(string name, Dictionary<string, Tokenizer> cache)
    {
        if (!cache.TryGetValue(name, out var tokenizer))
        {
            // Encodings ship in the Microsoft.ML.Tokenizers.Data.* packages: no download at run time.
            tokenizer = TiktokenTokenizer.CreateForEncoding(name);
            cache[name] = tokenizer;
        }

        return tokenizer;
    }
}

internal sealed record ModelEntry(ModelOptions Options, Tokenizer Tokenizer, ChatTemplate ChatTemplate)
{
    public string Name => Options.Name;

    public int CountTokens(string text) => Tokenizer.CountTokens(text);
}
